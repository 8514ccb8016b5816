"""``breakpoint()`` in a handler opens pdb on the terminal of ``lamina invoke``.

The runtime's stdin is not the terminal and its stdout is a pipe to lamina's log relay, so the default
``breakpoint()`` could neither prompt nor read. ``lamina invoke`` run in a terminal sets
``PYTHONBREAKPOINT`` to :func:`set_trace` and ``LAMINA_DEBUG_TERMINAL`` to the terminal's path; pdb
then reads and writes that terminal. The terminal stays open once opened: lamina sees it held and
suspends the invocation timeout (``lamina.local.sandbox.debugger``).
"""

import os
import sys

BREAKPOINT_HOOK = "lamina.runtime.terminal_debugger.set_trace"
TERMINAL_VARIABLE = "LAMINA_DEBUG_TERMINAL"

_terminal = None  # (input, output) once a breakpoint has opened the terminal


def set_trace(*args, **kwargs):  # type: ignore[no-untyped-def]
    """``sys.breakpointhook``: pdb on the terminal, stopped in the caller's frame."""
    global _terminal
    import pdb

    path = os.environ.get(TERMINAL_VARIABLE)
    if not path:
        return sys.__breakpointhook__(*args, **kwargs)
    if _terminal is None:
        _terminal = (open(path), open(path, "w", buffering=1))  # noqa: SIM115 (kept open for pdb)
    debugger = pdb.Pdb(stdin=_terminal[0], stdout=_terminal[1])
    debugger.set_trace(sys._getframe().f_back)
    return None
