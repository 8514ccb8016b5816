"""The runtime's side of a streamed response: ``/response`` with ``Lambda-Runtime-Function-Response-Mode:
streaming``, moved chunk by chunk into the invocation's :class:`~lamina.local.runtime_api.relay.StreamRelay`.

The streamed-response limit is enforced here: past it the caller's stream is cut and the invocation
ends with ``Function.ResponseSizeTooLarge``. Callers that cannot stream (the emulator path, ``lamina
invoke``, Event invocations) pass no relay; their streamed responses are buffered under the synchronous
limit, as AWS's emulator buffers them. Either way an error reported in the trailers ends the invocation
as a function error.
"""

from __future__ import annotations

import base64
import binascii
import json
from typing import Optional, Protocol

from lamina.local.lifecycle.states import Reply
from lamina.local.model import function_errors
from lamina.local.runtime_api.bodies import read_body
from lamina.local.runtime_api.http1 import Request
from lamina.local.runtime_api.relay import DEFAULT_CONTENT_TYPE, StreamRelay, too_large_message
from lamina.runtime import error_types, protocol


class StreamingEnvironment(Protocol):
    """What :func:`receive` needs from an execution environment (as RuntimeApiHandler offers it)."""

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]: ...

    def on_response(self, request_id: str, body: bytes, size: int, content_type: str) -> Reply: ...

    def on_error(self, request_id: str, body: bytes, content_type: Optional[str],
                 error_type: Optional[str]) -> Reply: ...


async def receive(environment: StreamingEnvironment, request: Request, request_id: str) -> Reply:
    """Take a streamed ``/response`` from the runtime: relayed to the caller, or buffered."""
    relay = environment.stream_relay(request_id)
    content_type = request.headers.get("Content-Type") or DEFAULT_CONTENT_TYPE
    if relay is None:
        body, size = await read_body(request.chunks(), request.content_length, protocol.MAX_SYNC_RESPONSE)
        return _finish(environment, request, request_id, body, size, content_type, None)
    cut: Optional[Reply] = None
    try:
        async for data in request.chunks():
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


def _finish(environment: StreamingEnvironment, request: Request, request_id: str, body: bytes,
            size: int, content_type: str, relay: Optional[StreamRelay]) -> Reply:
    """End the invocation: a success, or the function error the trailers report."""
    trailers = request.trailers
    error_type = trailers.get(protocol.HEADER_ERROR_TYPE)
    if not error_type:
        return environment.on_response(request_id, body, size, content_type)
    if relay is not None:
        relay.error_type = error_type
    document = _trailer_document(error_type, trailers.get(protocol.HEADER_ERROR_BODY) or "")
    return environment.on_error(request_id, document, protocol.CONTENT_TYPE_JSON, error_type)


def _trailer_document(error_type: str, encoded: str) -> bytes:
    """The error document a trailer carries (base64 JSON); Lambda's own document if it is unreadable."""
    try:
        document = base64.b64decode(encoded, validate=True)
        json.loads(document)
    except (binascii.Error, ValueError):
        return function_errors.document(error_type, "The function reported an error mid-stream")
    return document
