"""The log lines of a test session's local Lambda, kept so a test can see its own invocations'.

Lines are recorded as the environments write them (from the server's event loop thread), in order;
a position (:meth:`RecordingSink.mark`) taken before an invocation or a test delimits what came after.
"""

from __future__ import annotations

import threading
from typing import Optional

__all__ = ["RecordingSink"]


class RecordingSink:
    """A log sink that keeps every ``(function name, line)`` it is given."""

    def __init__(self) -> None:
        self._lines: list[tuple[str, str]] = []
        self._lock = threading.Lock()

    def write(self, function_name: str, line: str) -> None:
        with self._lock:
            self._lines.append((function_name, line))

    def mark(self) -> int:
        """A position in the log: what is written from now on comes after it."""
        with self._lock:
            return len(self._lines)

    def since(self, mark: int, function_name: Optional[str] = None) -> list[tuple[str, str]]:
        """The lines written after ``mark``, of one function or of all."""
        with self._lock:
            lines = self._lines[mark:]
        return [entry for entry in lines if function_name is None or entry[0] == function_name]

    def invocation_lines(self, mark: int, function_name: str, request_id: str) -> list[str]:
        """One invocation's lines: its function's since ``mark`` (a cold start's init included), up to
        the invocation's REPORT line."""
        lines: list[str] = []
        for _, line in self.since(mark, function_name):
            lines.append(line)
            if line.startswith(f"REPORT RequestId: {request_id}"):
                break
        return lines

    def render(self, mark: int) -> str:
        """The lines after ``mark`` as ``lamina serve`` prints them (``name | line``)."""
        return "".join(f"{name} | {line}\n" for name, line in self.since(mark))
