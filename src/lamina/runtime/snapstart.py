"""SnapStart: run the function's before-snapshot hooks, wait for the restore, run the after-restore hooks.

Hooks are registered with the ``snapshot-restore-py`` API (``register_before_snapshot``,
``register_after_restore``); before-snapshot hooks run last-registered first, after-restore hooks in
registration order, as AWS documents. A failing before-snapshot hook is an init error
(``Runtime.BeforeSnapshotError``, exit 64); a failing after-restore hook goes to ``/restore/error``
(``Runtime.AfterRestoreError``, exit 65).
"""

from __future__ import annotations

import sys

from lamina.runtime import error_types
from lamina.runtime.api_client import RuntimeAPIError
from lamina.runtime.errors import error_from_exception
from lamina.runtime.protocol import EXIT_AFTER_RESTORE_ERROR, EXIT_BEFORE_SNAPSHOT_ERROR

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Tuple

    Hook = Tuple[Callable[..., Any], Tuple[Any, ...], Dict[str, Any]]


def _registered() -> Tuple[List[Hook], List[Hook]]:
    """The hooks the function registered with ``snapshot-restore-py``.

    A function that registered hooks has imported that package, so it is read from ``sys.modules``:
    the runtime itself never imports anything beyond the standard library.
    """
    package = sys.modules.get("snapshot_restore_py")
    if package is None:
        return [], []
    return package.get_before_snapshot(), package.get_after_restore()


def run_hooks(runtime: Any) -> None:
    before, after = _registered()
    try:
        while before:
            function, args, kwargs = before.pop()
            function(*args, **kwargs)
        runtime.client.restore_next()
    except Exception as exc:
        _fail(runtime, exc, runtime.client.post_init_error, error_types.BEFORE_SNAPSHOT_ERROR,
              EXIT_BEFORE_SNAPSHOT_ERROR)
    try:
        for function, args, kwargs in after:
            function(*args, **kwargs)
    except Exception as exc:
        _fail(runtime, exc, runtime.client.post_restore_error, error_types.AFTER_RESTORE_ERROR,
              EXIT_AFTER_RESTORE_ERROR)


def _fail(runtime: Any, exc: Exception, post: Callable[[bytes, str], None], error_type: str,
          exit_code: int) -> None:
    """Log the hook's error, report it where Lambda expects it, and end the environment."""
    error = error_from_exception(exc)[0]
    runtime.log_error(error)
    try:
        post(runtime.to_json(error).encode("utf-8"), error_type)
    except RuntimeAPIError:
        pass  # the exit status still tells the platform what happened
    sys.exit(exit_code)
