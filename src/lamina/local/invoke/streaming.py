"""The caller's side of a streamed response: starting an invocation that may stream, and writing its
chunks out while the runtime produces them (see :mod:`~lamina.local.runtime_api.relay`).
"""

from __future__ import annotations

import asyncio
import base64
import json
from typing import TYPE_CHECKING, Any, Callable, Mapping, Optional

from aiohttp import ClientConnectionResetError, web
from aiohttp.http_writer import StreamWriter

from lamina.local.lifecycle.states import Kind
from lamina.local.model import function_errors
from lamina.local.runtime_api.relay import StreamRelay, too_large_message
from lamina.runtime import error_types, protocol

if TYPE_CHECKING:
    from lamina.local.invoke.service import InvocationResult, LocalLambda


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


async def stream_out(request: web.BaseRequest, relay: StreamRelay, task: asyncio.Task[InvocationResult],
                     headers: Mapping[str, str]) -> web.StreamResponse:
    """The plain Invoke path of a function that streams (:func:`start` saw it start): the bytes go
    out as chunked HTTP while they are produced.

    Lambda's Invoke passes streamed bytes through as they are (an HTTP integration prelude is for
    Function URLs to read), so they are not interpreted here. A failure after the first byte can no
    longer change the status or the headers: it is reported in HTTP trailers instead
    (``X-Amz-Function-Error`` and the runtime's own error trailers), the closest a chunked answer gets
    to Lambda's headers; so is ``X-Amz-Log-Result``, which only exists once the invocation is over.
    """
    response = web.StreamResponse(status=200, headers={**headers, "Content-Type": relay.content_type,
                                                       "Trailer": TRAILER_HEADER})
    writer = await response.prepare(request)
    connected = await pump(response, relay, bytes)
    result = await task
    if not connected:
        return response
    trailers = trailer_fields(result, relay, request.headers.get("X-Amz-Log-Type") == "Tail")
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
TRAILER_HEADER = ", ".join(_TRAILERS)  # what a streamed Invoke answer announces in ``Trailer``


def trailer_fields(result: InvocationResult, relay: StreamRelay, tail: bool) -> list[tuple[str, str]]:
    """The trailers that end a streamed Invoke answer: its failure, if any, and the log if asked for."""
    trailers = []
    failure = failure_of(result, relay)
    if failure is not None:
        error_type, document = failure
        trailers += [("X-Amz-Function-Error", "Unhandled"), (protocol.HEADER_ERROR_TYPE, error_type),
                     (protocol.HEADER_ERROR_BODY, base64.b64encode(document).decode())]
    if tail:
        trailers.append(("X-Amz-Log-Result", base64.b64encode(result.log_tail()).decode()))
    return trailers


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
