"""``python -m lamina.runtime [HANDLER]``: the same contract as ``python -m awslambdaric HANDLER``.

The handler comes from the first argument, else from ``_HANDLER``, so a container image swaps only the
module name and a ``bootstrap`` script can pass ``$_HANDLER`` or nothing.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Optional

    from lamina.runtime.loop import Runtime

_runtime: Optional[Runtime] = None  # the one runtime of this process, for __getattr__ below


def main() -> None:
    global _runtime
    handler = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER")
    api_address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"):
        from lamina.runtime import concurrency

        _runtime = concurrency.start(api_address)
        concurrency.serve(_runtime, handler, api_address)  # type: ignore[arg-type]
        return
    from lamina.runtime import loop

    _runtime = runtime = loop.start(handler, api_address)
    runtime.init(handler)  # type: ignore[arg-type]
    runtime.run()  # main -> run -> handle -> handler: as deep as awslambdaric's


def __getattr__(name: str) -> Any:
    """``__main__.bootstrap``: awslambdaric's module layout, for integrations that patch the runtime
    (Sentry's ``AwsLambdaIntegration``): built when first asked for, so it costs nothing otherwise."""
    if name == "bootstrap" and _runtime is not None:
        from lamina.runtime import bootstrap_compat

        return bootstrap_compat.attach(_runtime)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
