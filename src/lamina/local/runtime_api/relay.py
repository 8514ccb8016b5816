"""The hand-over of one invocation's streamed response from the Runtime API to its caller.

A caller that can stream (``InvokeWithResponseStream``, the plain Invoke path, the HTTP front) hands a
:class:`StreamRelay` along with its invocation; the Runtime API side
(:mod:`~lamina.local.runtime_api.streaming`) puts each chunk in as it arrives from the runtime and the
caller's side (:mod:`~lamina.local.invoke.streaming`) takes it out. The relay holds at most a few
chunks: when the caller is slower than the runtime, :meth:`StreamRelay.put` waits, the server stops
reading the runtime's socket, and TCP slows the runtime down, so memory stays flat however large the
response. Past the streamed-response limit the relay refuses more and the caller's stream is cut.
"""

from __future__ import annotations

import asyncio
import collections
import os
from typing import AsyncIterator, Optional

from lamina.runtime import protocol

LIMIT_ENV = "LAMINA_MAX_STREAMED_RESPONSE"  # bytes; lets tests exercise the limit without 200 MB
DEFAULT_CONTENT_TYPE = "application/octet-stream"
_WINDOW = 4  # chunks buffered between runtime and caller


def streamed_response_limit() -> int:
    """The streamed-response limit: Lambda's 200 MB, or ``$LAMINA_MAX_STREAMED_RESPONSE`` bytes."""
    value = os.environ.get(LIMIT_ENV, "")
    return int(value) if value.isdigit() else protocol.MAX_STREAMED_RESPONSE


def too_large_message(limit: int) -> str:
    return f"Response payload size exceeded maximum allowed payload size ({limit} bytes)."


class StreamRelay:
    """A bounded hand-over of one invocation's streamed chunks from the Runtime API to the caller."""

    def __init__(self, limit: Optional[int] = None, window: int = _WINDOW) -> None:
        self.limit = streamed_response_limit() if limit is None else limit
        self.content_type = DEFAULT_CONTENT_TYPE
        self.size = 0
        self.over_limit = False
        self.started = False  # the runtime began a streamed response for this invocation
        self.ended = False
        self.abandoned = False  # the caller went away; chunks are dropped
        self.error_type: Optional[str] = None  # from the trailers, as the runtime named it
        self._window = window
        self._chunks: collections.deque[bytes] = collections.deque()
        self._changed = asyncio.Event()
        self._settled = asyncio.Event()  # started or ended: the caller can decide how to answer

    # --- the Runtime API's side -----------------------------------------------------------------

    def begin(self, content_type: Optional[str]) -> None:
        self.content_type = content_type or DEFAULT_CONTENT_TYPE
        self.started = True
        self._settled.set()

    async def put(self, chunk: bytes) -> bool:
        """Pass ``chunk`` on, waiting while the caller is behind; False once past the limit."""
        if self.over_limit:
            return False
        self.size += len(chunk)
        if self.size > self.limit:
            self.over_limit = True
            self.end()
            return False
        while len(self._chunks) >= self._window and not (self.abandoned or self.ended):
            self._changed.clear()
            await self._changed.wait()
        if not (self.abandoned or self.ended):
            self._chunks.append(chunk)
            self._changed.set()
        return True

    def end(self) -> None:
        """No more chunks (the response ended, was cut, or the invocation finished another way)."""
        self.ended = True
        self._settled.set()
        self._changed.set()

    # --- the caller's side ----------------------------------------------------------------------

    async def settled(self) -> None:
        """Wait until the runtime starts streaming or the invocation ends without a stream."""
        await self._settled.wait()

    def abandon(self) -> None:
        self.abandoned = True
        self._chunks.clear()
        self._changed.set()

    async def chunks(self) -> AsyncIterator[bytes]:
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self._changed.set()
                yield chunk
            elif self.ended:
                return
            else:
                self._changed.clear()
                await self._changed.wait()
