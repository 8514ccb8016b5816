"""Where the log lines of execution environments go: a terminal, a file, or nowhere.

Every line is prefixed with its function's name so several functions stay readable in one terminal.
A terminal gets rich's colours; a pipe or file gets plain text, written directly, because the log
is on every invocation's path and must stay cheap.
"""

from __future__ import annotations

import sys
from typing import Optional, Protocol, TextIO

from rich.console import Console
from rich.text import Text

_PLATFORM_PREFIXES = ("START ", "END ", "REPORT ", "INIT_START ")
_COLOURS = ("cyan", "magenta", "green", "yellow", "blue", "bright_cyan", "bright_magenta")


class LogSink(Protocol):
    def write(self, function_name: str, line: str) -> None: ...


class NullSink:
    def write(self, function_name: str, line: str) -> None:
        pass


class ConsoleSink:
    """Lines as ``name | text`` on a stream (stderr by default)."""

    def __init__(self, stream: Optional[TextIO] = None, colour: Optional[bool] = None) -> None:
        self._stream = stream or sys.stderr
        is_tty = self._stream.isatty() if colour is None else colour
        self._console = Console(file=self._stream, highlight=False, soft_wrap=True) if is_tty else None
        self._styles: dict[str, str] = {}

    def write(self, function_name: str, line: str) -> None:
        if self._console is None:
            self._stream.write(f"{function_name} | {line}\n")
            self._stream.flush()
            return
        style = self._styles.setdefault(function_name, _COLOURS[len(self._styles) % len(_COLOURS)])
        text = Text.assemble((function_name, f"bold {style}"), " | ")
        text.append(line, style="dim" if line.startswith(_PLATFORM_PREFIXES) else "")
        self._console.print(text)
