"""A debugger on a function's runtime: ``debugpy`` on a port, or pdb on ``lamina invoke``'s terminal.

- ``--debug-port PORT``: the runtime starts under ``python -m debugpy --listen 127.0.0.1:PORT
  --wait-for-client`` (:func:`command`), so its init waits for VS Code (or any DAP client) to attach;
  :func:`launch_json` is the configuration to attach with. The code runs where it is: no path mappings.
- A terminal: ``breakpoint()`` opens pdb on it (``PYTHONBREAKPOINT``, :mod:`lamina.runtime.terminal_debugger`,
  :func:`terminal_variables`), since the runtime's own stdin and stdout are not the terminal.

While a debugger holds the runtime (:func:`attached`: a client connected to the debug port, or a
process of the environment holding the terminal open) the invocation timeout is suspended, as SAM
suspends it; it runs again once the debugger lets go.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from typing import Optional

from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api import peers
from lamina.runtime.terminal_debugger import BREAKPOINT_HOOK, TERMINAL_VARIABLE

__all__ = ["RECHECK_SECONDS", "attached", "command", "launch_json", "terminal_variables", "wrap"]

HOST = "127.0.0.1"
RECHECK_SECONDS = 0.5  # how often a suspended timeout looks whether the debugger has let go


def command(argv: Sequence[str], port: int) -> list[str]:
    """``argv`` (a Python runtime started as ``python [flags] -m MODULE …``) under debugpy on ``port``."""
    if "-m" not in argv[1:]:
        raise ValueError("debugging needs a Python runtime started as 'python -m MODULE', "
                         f"not {' '.join(argv)!r}")
    at = list(argv).index("-m", 1)
    return [*argv[:at], "-m", "debugpy", "--listen", f"{HOST}:{port}", "--wait-for-client", *argv[at:]]


def wrap(config: FunctionConfig, argv: list[str], env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """The runtime's argv and variables with the debugger ``config`` asks for (if any).

    debugpy is found where lamina's interpreter has it, after the function's own packages.
    """
    if config.debug_port is not None:
        import debugpy

        argv = command(argv, config.debug_port)
        found = os.path.dirname(os.path.dirname(os.path.abspath(debugpy.__file__)))
        path = [part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part]
        env = {**env, "PYTHONPATH": os.pathsep.join([*path, found] if found not in path else path)}
    if config.debug_terminal is not None:
        env = {**env, **terminal_variables(config.debug_terminal)}
    return argv, env


def terminal_variables(terminal: str) -> dict[str, str]:
    """The variables that make ``breakpoint()`` open pdb on ``terminal`` (a ``/dev/pts/N`` path)."""
    return {"PYTHONBREAKPOINT": BREAKPOINT_HOOK, TERMINAL_VARIABLE: terminal}


def launch_json(port: int, name: str) -> str:
    """VS Code's ``launch.json`` configuration that attaches to the function's runtime."""
    configuration = {"name": f"Attach to {name} (lamina)", "type": "debugpy", "request": "attach",
                     "connect": {"host": HOST, "port": port}, "justMyCode": False}
    return json.dumps({"version": "0.2.0", "configurations": [configuration]}, indent=2)


def attached(debug_port: Optional[int], terminal: Optional[str], pids: Iterable[int]) -> bool:
    """Whether a debugger holds the environment now (see the module's docstring)."""
    if debug_port is not None and peers.connected_to(debug_port):
        return True
    return terminal is not None and peers.holds(terminal, pids)
