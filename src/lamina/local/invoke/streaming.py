"""Relaying a streamed response from the runtime to the caller while it is being produced.

A caller that can stream (``InvokeWithResponseStream``, the plain Invoke path) hands a
:class:`StreamRelay` along with its invocation. When the runtime posts a streamed response
(``Lambda-Runtime-Function-Response-Mode: streaming``) for that invocation, :func:`receive` moves each
chunk from the runtime's request into the relay as it arrives, and the caller's side writes it out.
The relay holds at most a few chunks: when the caller is slower than the runtime, :meth:`StreamRelay.put`
waits, aiohttp stops reading the runtime's socket, and TCP slows the runtime down, so memory stays
flat however large the response. The streamed-response limit is enforced here: past it the caller's
stream is cut and the invocation ends with ``Function.ResponseSizeTooLarge``.

Callers that cannot stream (the emulator path, ``lamina invoke``, Event invocations) pass no relay
(the HTTP front passes one: it answers as a function URL in ``RESPONSE_STREAM`` mode); their streamed
responses are buffered under the synchronous limit, as AWS's emulator buffers them. Either way an
error reported in the trailers ends the invocation as a function error.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import collections
import json
import os
from typing import TYPE_CHECKING, Any, AsyncIterator, Callable, Mapping, Optional, Protocol

from aiohttp import ClientConnectionResetError, web
from aiohttp.http_writer import StreamWriter

from lamina.local.lifecycle.single import Kind, Reply
from lamina.local.model import function_errors
from lamina.local.runtime_api.trailers import trailers_of
from lamina.runtime import error_types, protocol

if TYPE_CHECKING:
    from lamina.local.invoke.service import InvocationResult, LocalLambda

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


class StreamingEnvironment(Protocol):
    """What :func:`receive` needs from an execution environment (as RuntimeApiHandler offers it)."""

    def on_response(self, request_id: str, body: bytes, size: int, content_type: str) -> Reply: ...

    def on_error(self, request_id: str, body: bytes, content_type: Optional[str],
                 error_type: Optional[str]) -> Reply: ...


def relay_for(environment: object, request_id: str) -> Optional[StreamRelay]:
    """The relay of the invocation ``request_id`` if it is the one the environment is running."""
    own = getattr(environment, "stream_relay", None)
    if own is not None:  # environments running several invocations know theirs
        relay = own(request_id)
        return relay if isinstance(relay, StreamRelay) else None
    lifecycle = getattr(environment, "lifecycle", None)
    current = getattr(lifecycle, "current", None)
    if current is None or not lifecycle.delivered or current.request_id != request_id:  # type: ignore[union-attr]
        return None
    relay = getattr(current, "relay", None)
    return relay if isinstance(relay, StreamRelay) else None


async def receive(environment: StreamingEnvironment, request: web.BaseRequest, request_id: str) -> Reply:
    """Take a streamed ``/response`` from the runtime: relayed to the caller, or buffered."""
    relay = relay_for(environment, request_id)
    content_type = request.headers.get("Content-Type", DEFAULT_CONTENT_TYPE)
    if relay is None:
        from lamina.local.runtime_api.server import (
            read_body,  # the buffered path shares the Runtime API's reader
        )

        body, size = await read_body(request, protocol.MAX_SYNC_RESPONSE)
        return _finish(environment, request, request_id, body, size, content_type, None)
    cut: Optional[Reply] = None
    try:
        async for data, _ in request.content.iter_chunks():
            if not data:  # aiohttp marks the end of an HTTP chunk with an empty piece
                continue
            if not relay.started:
                # The caller's answer turns into a stream at the first byte, not before: a stream
                # that ends empty with an error is the ordinary error answer, as /error would be.
                relay.begin(content_type)
            if cut is None and not await relay.put(data):
                # Past the limit: the caller is told now; the rest of the body is read and dropped.
                # The lifecycle knows the synchronous limit only; any size past it ends the
                # invocation as Function.ResponseSizeTooLarge.
                size = max(relay.size, protocol.MAX_SYNC_RESPONSE + 1)
                cut = environment.on_response(request_id, b"", size, content_type)
    finally:
        relay.end()
    if cut is not None:
        message = too_large_message(relay.limit)
        return Reply.error(413, error_types.REQUEST_ENTITY_TOO_LARGE_RUNTIME, message)
    return _finish(environment, request, request_id, b"", 0, content_type, relay)


def _finish(environment: StreamingEnvironment, request: web.BaseRequest, request_id: str, body: bytes,
            size: int, content_type: str, relay: Optional[StreamRelay]) -> Reply:
    """End the invocation: a success, or the function error the trailers report."""
    trailers = trailers_of(request)
    error_type = trailers.get(protocol.HEADER_ERROR_TYPE.lower())
    if not error_type:
        return environment.on_response(request_id, body, size, content_type)
    if relay is not None:
        relay.error_type = error_type
    document = _trailer_document(error_type, trailers.get(protocol.HEADER_ERROR_BODY.lower(), ""))
    return environment.on_error(request_id, document, protocol.CONTENT_TYPE_JSON, error_type)


def _trailer_document(error_type: str, encoded: str) -> bytes:
    """The error document a trailer carries (base64 JSON); Lambda's own document if it is unreadable."""
    try:
        document = base64.b64decode(encoded, validate=True)
        json.loads(document)
    except (binascii.Error, ValueError):
        return function_errors.document(error_type, "The function reported an error mid-stream")
    return document


def error_details(document: bytes) -> str:
    """``ErrorDetails`` of ``InvokeComplete``: the error's message, else the whole document."""
    try:
        parsed = json.loads(document)
    except ValueError:
        return document.decode(errors="replace")
    if isinstance(parsed, dict) and isinstance(parsed.get("errorMessage"), str):
        return str(parsed["errorMessage"])
    return document.decode(errors="replace")


# --- the caller's side: starting an invocation that may stream, and writing a stream out ----------


async def start(local: LocalLambda, name: str, payload: bytes,
                **options: Any) -> tuple[StreamRelay, asyncio.Task[InvocationResult]]:
    """Start an invocation with a relay; return once it streams or has ended without streaming."""
    relay = StreamRelay()
    task = asyncio.ensure_future(local.invoke(name, payload, relay=relay, **options))
    task.add_done_callback(lambda _: relay.end())
    try:
        await relay.settled()
    except asyncio.CancelledError:
        task.cancel()
        raise
    return relay, task


async def pump(response: web.StreamResponse, relay: StreamRelay, frame: Callable[[bytes], bytes]) -> bool:
    """Write the relay's chunks as they come; False (and the relay abandoned) if the caller left."""
    try:
        async for chunk in relay.chunks():
            await response.write(frame(chunk))
    except (ConnectionError, ClientConnectionResetError):
        relay.abandon()
        return False
    return True


async def invoke_relayed(request: web.BaseRequest, local: LocalLambda, name: str, payload: bytes,
                         headers: Mapping[str, str], **options: Any) -> InvocationResult | web.StreamResponse:
    """The plain Invoke path: a streamed response goes out as chunked HTTP while it is produced.

    A function that does not stream (or fails before its first byte) gets the usual buffered answer,
    returned as its result for the Invoke API to render. Lambda's Invoke passes streamed bytes through
    as they are (an HTTP integration prelude is for Function URLs to read), so they are not
    interpreted here. A failure after the first byte can no longer change the status or the headers:
    it is reported in HTTP trailers instead (``X-Amz-Function-Error`` and the runtime's own error
    trailers), the closest a chunked answer gets to Lambda's headers; so is ``X-Amz-Log-Result``,
    which only exists once the invocation is over.
    """
    relay, task = await start(local, name, payload, **options)
    if not relay.started:
        return await task
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": relay.content_type,
                                                       "Trailer": ", ".join(_TRAILERS)})
    writer = await response.prepare(request)
    connected = await pump(response, relay, bytes)
    result = await task
    if not connected:
        return response
    trailers = []
    failure = failure_of(result, relay)
    if failure is not None:
        error_type, document = failure
        trailers += [("X-Amz-Function-Error", "Unhandled"), (protocol.HEADER_ERROR_TYPE, error_type),
                     (protocol.HEADER_ERROR_BODY, base64.b64encode(document).decode())]
    if request.headers.get("X-Amz-Log-Type") == "Tail":
        trailers.append(("X-Amz-Log-Result", base64.b64encode(result.log_tail()).decode()))
    try:
        if trailers and isinstance(writer, StreamWriter):
            writer.chunked = False  # the last chunk carries the trailers, written here
            await writer.write(b"0\r\n" + b"".join(f"{k}: {v}\r\n".encode() for k, v in trailers) + b"\r\n")
        await response.write_eof()
    except (ConnectionError, ClientConnectionResetError):
        pass
    return response


_TRAILERS = ("X-Amz-Function-Error", protocol.HEADER_ERROR_TYPE, protocol.HEADER_ERROR_BODY,
             "X-Amz-Log-Result")


def failure_of(result: InvocationResult, relay: StreamRelay) -> Optional[tuple[str, bytes]]:
    """How a relayed invocation failed (error type, error document), or None if it succeeded."""
    if relay.over_limit:
        message = too_large_message(relay.limit)
        return error_types.RESPONSE_SIZE_TOO_LARGE, function_errors.document(
            error_types.RESPONSE_SIZE_TOO_LARGE, message)
    if result.kind is Kind.RESPONSE:
        return None
    # The error type as the function reported it (trailer or document), not Lambda's metric name.
    return relay.error_type or _document_error_type(result.payload) or result.error_type or \
        error_types.UNKNOWN, result.payload


def _document_error_type(document: bytes) -> Optional[str]:
    try:
        parsed = json.loads(document)
    except ValueError:
        return None
    error_type = parsed.get("errorType") if isinstance(parsed, dict) else None
    return error_type if isinstance(error_type, str) and error_type else None
