"""``AWS_LAMBDA_EXEC_WRAPPER``: a script that starts the runtime, as Lambda's managed runtimes run it.

On a managed runtime Lambda starts ``$AWS_LAMBDA_EXEC_WRAPPER`` with the runtime's own command line as
its arguments (``/opt/wrapper /var/lang/bin/python3.12 /var/runtime/bootstrap.py``); the script may
set variables or change the command, then ``exec "$@"``. OS-only runtimes (``provided.*``) start
their ``bootstrap`` as it is. Under bubblewrap the wrapper's path is the one inside the sandbox; in
path mode an ``/opt/…`` path is looked for in the function's layers (last layer first, as they merge)
and a ``/var/task/…`` one in its code.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

from lamina.local.model.function_config import FunctionConfig

VARIABLE = "AWS_LAMBDA_EXEC_WRAPPER"


def located(wrapper: str, config: FunctionConfig) -> str:
    """The wrapper's path on this machine, in path mode."""
    if wrapper.startswith("/opt/"):
        relative = wrapper[len("/opt/"):]
        for layer in reversed(config.layers):
            if (layer / relative).exists():
                return str(layer / relative)
    if wrapper.startswith("/var/task/"):
        return str(config.code_dir / wrapper[len("/var/task/"):])
    return str(Path(wrapper))


def wrapped(argv: Sequence[str], config: FunctionConfig) -> list[str]:
    """The runtime's argv with the exec wrapper in front, where the function names one."""
    wrapper = config.environment.get(VARIABLE)
    if not wrapper or config.runtime_name.startswith("provided"):
        return list(argv)
    if config.sandbox == "bwrap":
        at = list(argv).index("--") + 1  # bubblewrap's own arguments end at "--"
        return [*argv[:at], wrapper, *argv[at:]]
    return [located(wrapper, config), *argv]
