"""The part of an invocation's log that is kept: its last 4 KB, what ``LogResult`` returns.

Every line an environment writes goes to the console sink as it comes; the invocation itself keeps
only the tail that ``X-Amz-Log-Result`` (``--log-type Tail``) and ``InvokeComplete``'s ``LogResult``
carry, so a function that prints hundreds of megabytes costs ``lamina serve`` a few kilobytes.
"""

from __future__ import annotations

from lamina.runtime import protocol


class LogTail:
    """The last ``size`` bytes of the lines appended to it, in at most about ``2 * size`` bytes.

    Appending is amortised constant work per byte: the buffer is trimmed back to ``size`` only when
    it has doubled, and a line longer than ``size`` replaces it outright.
    """

    __slots__ = ("_buffer", "_size")

    def __init__(self, size: int = protocol.MAX_LOG_TAIL) -> None:
        self._size = size
        self._buffer = bytearray()

    def append(self, line: str) -> None:
        """One log line (without its newline)."""
        if len(line) >= self._size:  # only its end can be kept; each character is at least one byte
            self._buffer[:] = (line[-self._size:].encode() + b"\n")[-self._size:]
            return
        self._buffer += line.encode()
        self._buffer += b"\n"
        if len(self._buffer) > 2 * self._size:
            del self._buffer[:-self._size]

    def value(self) -> bytes:
        return bytes(self._buffer[-self._size:])
