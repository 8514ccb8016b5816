"""Finding the function's handler from ``_HANDLER``, with awslambdaric's rules and init errors.

``module.function``, ``pkg.sub.module.function`` and ``pkg/sub/module.function`` all name a handler;
the module is imported relative to the working directory (the task root) and ``PYTHONPATH``.
"""

from __future__ import annotations

import importlib
import sys

from lamina.runtime import error_types
from lamina.runtime.errors import FaultError

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Callable

    Handler = Callable[[Any, Any], Any]


def load_handler(handler: str) -> Handler:
    """Import the handler's module and return the handler; raise :class:`FaultError` as Lambda reports."""
    try:
        module_name, function_name = handler.rsplit(".", 1)
    except ValueError as exc:
        raise FaultError(error_types.MALFORMED_HANDLER_NAME, f"Bad handler '{handler}': {exc}") from None

    try:
        if module_name.split(".")[0] in sys.builtin_module_names:
            raise FaultError(
                error_types.BUILT_IN_MODULE_CONFLICT,
                f"Cannot use built-in module {module_name} as a handler module",
            )
        module = importlib.import_module(module_name.replace("/", "."))
    except ImportError as exc:
        raise FaultError(
            error_types.IMPORT_MODULE_ERROR, f"Unable to import module '{module_name}': {exc}"
        ) from None
    except SyntaxError as exc:
        trace = [f'  File "{exc.filename}" Line {exc.lineno}\n    {exc.text}']
        raise FaultError(
            error_types.USER_CODE_SYNTAX_ERROR, f"Syntax error in module '{module_name}': {exc}", trace
        ) from None

    try:
        function: Handler = getattr(module, function_name)
    except AttributeError:
        raise FaultError(
            error_types.HANDLER_NOT_FOUND, f"Handler '{function_name}' missing on module '{module_name}'"
        ) from None
    return function
