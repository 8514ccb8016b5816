"""Response streaming for Python handlers: chunks reach the caller as the handler produces them.

A handler opts in with ``@lamina.streaming`` and then either

- returns (or is) a generator / async generator / iterable of ``bytes`` or ``str`` chunks, optionally
  wrapped in :class:`StreamingResponse` to set the content type or, for Function URLs, the HTTP status
  code, headers and cookies (sent as Lambda's HTTP integration prelude); or
- takes a third parameter, ``stream`` (a :class:`ResponseStream`), and writes to it.

The runtime posts with ``Lambda-Runtime-Function-Response-Mode: streaming`` and chunked transfer
encoding, one HTTP chunk per handler chunk. An exception before the first byte is an ordinary
``/error``; after it, the stream ends with Lambda's error trailers.
"""

from __future__ import annotations

import base64

from lamina.runtime import error_types, protocol
from lamina.runtime.errors import FaultError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple

    from lamina.runtime.api_client import RuntimeAPIClient

STREAMING_ATTRIBUTE = "__lamina_streaming__"
DEFAULT_CONTENT_TYPE = "application/octet-stream"


def streaming(handler: Any = None, *, content_type: Optional[str] = None) -> Any:
    """Mark a handler as streaming its response: ``@streaming`` or ``@streaming(content_type=...)``."""

    def mark(function: Any) -> Any:
        setattr(function, STREAMING_ATTRIBUTE, {"content_type": content_type or DEFAULT_CONTENT_TYPE})
        return function

    return mark(handler) if handler is not None else mark


class StreamingResponse:
    """A streamed body with its content type, or with an HTTP status, headers and cookies (Function URLs)."""

    def __init__(self, body: Any, status_code: Optional[int] = None, headers: Optional[Dict[str, str]] = None,
                 cookies: Optional[List[str]] = None, content_type: Optional[str] = None) -> None:
        self.body = body
        self.status_code = status_code
        self.headers = headers
        self.cookies = cookies
        self.content_type = content_type


def _as_bytes(chunk: Any) -> bytes:
    if isinstance(chunk, bytes):
        return chunk
    if isinstance(chunk, str):
        return chunk.encode("utf-8")
    if isinstance(chunk, (bytearray, memoryview)):
        return bytes(chunk)
    raise FaultError(error_types.MARSHAL_ERROR,
                     f"Unable to marshal response: streamed chunk of type {type(chunk).__name__} "
                     "is not bytes or str")


class StreamSender:
    """Sends one invocation's streamed response; opens the request at the first byte, not before."""

    def __init__(self, client: RuntimeAPIClient, request_id: str, invocation_id: Optional[str],
                 content_type: str) -> None:
        self.client = client
        self.request_id = request_id
        self.invocation_id = invocation_id
        self.content_type = content_type
        self.prelude: Optional[bytes] = None
        self.started = False

    def set_http_prelude(self, status_code: int, headers: Optional[Dict[str, str]],
                         cookies: Optional[List[str]]) -> None:
        from lamina.runtime import fastjson

        if self.started:
            raise RuntimeError("the HTTP status and headers must be set before the first write")
        prelude: Dict[str, Any] = {"statusCode": status_code}
        if headers:
            prelude["headers"] = headers
        if cookies:
            prelude["cookies"] = cookies
        self.content_type = protocol.CONTENT_TYPE_HTTP_INTEGRATION
        encoded = fastjson.make_encoder(True, str)(prelude).encode()
        self.prelude = encoded + protocol.HTTP_INTEGRATION_DELIMITER

    def _start(self) -> None:
        self.started = True
        self.client.stream_begin(self.request_id, self.content_type, self.invocation_id)
        if self.prelude is not None:
            self.client.stream_write(self.prelude)

    def write(self, chunk: Any) -> None:
        data = _as_bytes(chunk)
        if not self.started:
            self._start()
        self.client.stream_write(data)

    def finish(self, error: Optional[Dict[str, Any]] = None, to_json: Optional[Callable[[Any], str]] = None
               ) -> Tuple[int, bytes]:
        if not self.started:
            self._start()
        trailers = []
        if error is not None and to_json is not None:
            body = base64.b64encode(to_json(error).encode("utf-8")).decode("ascii")
            trailers = [(protocol.HEADER_ERROR_TYPE, error["errorType"]), (protocol.HEADER_ERROR_BODY, body)]
        return self.client.stream_end(trailers)


class ResponseStream:
    """What a three-parameter streaming handler writes to: ``stream.write(chunk)``, flushed at once."""

    def __init__(self, sender: StreamSender) -> None:
        self._sender = sender

    def set_content_type(self, content_type: str) -> None:
        if self._sender.started:
            raise RuntimeError("the content type must be set before the first write")
        self._sender.content_type = content_type

    def http_response(self, status_code: int = 200, headers: Optional[Dict[str, str]] = None,
                      cookies: Optional[List[str]] = None) -> None:
        """Answer a Function URL with this status, headers and cookies (before the first write)."""
        self._sender.set_http_prelude(status_code, headers, cookies)

    def write(self, chunk: Any) -> None:
        self._sender.write(chunk)

    writelines = None  # not a file: one write is one chunk on the wire

    @property
    def started(self) -> bool:
        return self._sender.started


def takes_stream(handler: Any) -> bool:
    """True for a handler declared as ``(event, context, stream)``."""
    function = handler if hasattr(handler, "__code__") else type(handler).__dict__.get("__call__")
    code = getattr(function, "__code__", None)
    if code is None:
        return False
    bound = 1 if hasattr(handler, "__self__") or function is not handler else 0
    return bool(code.co_argcount - bound >= 3)


def pump(sender: StreamSender, body: Any, run: Callable[[Any], Any], marshal: Callable[[Any], bytes]) -> None:
    """Send ``body`` chunk by chunk: an iterable, an async iterable (driven with ``run``) or one value."""
    if isinstance(body, StreamingResponse):
        if body.content_type:
            sender.content_type = body.content_type
        if body.status_code is not None or body.headers or body.cookies:
            sender.set_http_prelude(body.status_code or 200, body.headers, body.cookies)
        body = body.body
    if body is None:
        return
    if isinstance(body, (bytes, str, bytearray, memoryview)):
        sender.write(body)
    elif hasattr(body, "__aiter__"):
        iterator = body.__aiter__()
        while True:
            try:
                chunk = run(iterator.__anext__())
            except StopAsyncIteration:
                return
            sender.write(chunk)
    elif hasattr(body, "__iter__") and not isinstance(body, dict):
        for chunk in body:
            sender.write(chunk)
    else:
        sender.write(marshal(body))
