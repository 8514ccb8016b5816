"""Where the log lines of execution environments go: a terminal, a file, or nowhere.

Every line is prefixed with its function's name so several functions stay readable in one terminal.
A terminal gets rich's colours; a pipe or file gets plain text. Lines written from the event loop
are gathered and written once per loop iteration, after the current callbacks: an invocation's
END/REPORT lines then reach the terminal just after its response reaches the caller, not before.
A terminal's lines are rendered there too: rich takes about 0.2 ms to print a line, more than lamina
spends on an invocation, so it must not run between an invocation and its answer. A START line, written
as its invocation's event goes to the runtime, waits up to :data:`START_DELAY` for the lines after it:
a short invocation's START, output, END and REPORT then go out in one write after its answer, rather
than START in a write of its own while the runtime is at work. What is gathered
is bounded (:data:`MAX_PENDING_CHARS`): a function flooding its output has it written as it comes,
not held until the loop turns.
"""

from __future__ import annotations

import asyncio
import sys
import threading
from typing import TYPE_CHECKING, Optional, Protocol, TextIO

if TYPE_CHECKING:
    from rich.console import Console

_PLATFORM_PREFIXES = ("START ", "END ", "REPORT ", "INIT_START ")
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")
# Gathered text beyond which the lines are written at once (a few of the longest, 256 KB, lines).
MAX_PENDING_CHARS = 1024 * 1024
# How long a START line may wait to go out with the lines after it (imperceptible on a terminal).
START_DELAY = 0.005


class LogSink(Protocol):
    def write(self, function_name: str, line: str) -> None: ...


class NullSink:
    def write(self, function_name: str, line: str) -> None:
        pass

    def flush(self) -> None:
        pass


class ConsoleSink:
    """Lines as ``name | text`` on a stream (stderr by default)."""

    def __init__(self, stream: Optional[TextIO] = None, colour: Optional[bool] = None) -> None:
        self._stream = stream or sys.stderr
        is_tty = self._stream.isatty() if colour is None else colour
        self._console: Optional[Console] = None
        if is_tty:  # rich only for a terminal: importing it costs a command 20 ms
            from rich.console import Console

            self._console = Console(file=self._stream, highlight=False, soft_wrap=True)
        self._styles: dict[str, str] = {}
        self._pending: list[tuple[str, str]] = []
        self._pending_chars = 0
        self._soon = False  # a flush is scheduled for the next loop step
        self._later: Optional[asyncio.TimerHandle] = None  # or, for START lines only, a little later
        self._loop_of: tuple[int, Optional[asyncio.AbstractEventLoop]] = (0, None)

    def write(self, function_name: str, line: str) -> None:
        self._pending.append((function_name, line))
        self._pending_chars += len(line)
        if self._pending_chars > MAX_PENDING_CHARS:
            self.flush()
            return
        if self._soon:
            return
        loop = self._running_loop()
        if loop is None:  # no event loop: write now
            self.flush()
            return
        if line.startswith("START "):
            # Written while the runtime works on the invocation it starts: the line waits for the
            # invocation's next one (usually its END, just after the caller's answer), or START_DELAY.
            if self._later is None:
                self._later = loop.call_later(START_DELAY, self.flush)
            return
        self._soon = True
        loop.call_soon(self.flush)

    def _running_loop(self) -> Optional[asyncio.AbstractEventLoop]:
        """This thread's running loop, remembered (asking asyncio costs a system call each time)."""
        thread, loop = self._loop_of
        if thread == threading.get_ident() and loop is not None and loop.is_running():
            return loop
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return None
        self._loop_of = (threading.get_ident(), loop)
        return loop

    def flush(self) -> None:
        """Write the gathered lines (called once per loop iteration, and at shutdown)."""
        self._soon = False
        if self._later is not None:
            self._later.cancel()
            self._later = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        self._pending_chars = 0
        if self._console is None:
            self._stream.write("".join([f"{name} | {line}\n" for name, line in pending]))
            self._stream.flush()
            return
        from rich.text import Text

        for name, line in pending:
            style = self._styles.setdefault(name, _COLOURS[len(self._styles) % len(_COLOURS)])
            text = Text.assemble((name, f"bold {style}"), " | ")
            text.append(line, style="dim" if line.startswith(_PLATFORM_PREFIXES) else "")
            self._console.print(text)
