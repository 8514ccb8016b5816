"""``python -m lamina.runtime [HANDLER]``: the same contract as ``python -m awslambdaric HANDLER``.

The handler comes from the first argument, else from ``_HANDLER``, so a container image swaps only the
module name and a ``bootstrap`` script can pass ``$_HANDLER`` or nothing.
"""

import os
import sys


def main() -> None:
    handler = sys.argv[1] if len(sys.argv) > 1 else os.environ.get("_HANDLER")
    if os.environ.get("AWS_LAMBDA_MAX_CONCURRENCY"):
        from lamina.runtime import concurrency

        concurrency.main(handler, os.environ.get("AWS_LAMBDA_RUNTIME_API"))
        return
    from lamina.runtime import loop

    loop.main(handler, os.environ.get("AWS_LAMBDA_RUNTIME_API"))


if __name__ == "__main__":
    main()
