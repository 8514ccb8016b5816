"""A lean HTTP/1.1 server for the Runtime API and the Invoke API's port: asyncio protocol, llhttp
parser (``httptools``).

Why not aiohttp here: an invocation is three HTTP exchanges (the caller's; the event out on the
runtime's ``next``, the result in on its ``/response``), and aiohttp's request and response machinery
costs more per exchange than everything lamina decides about the invocation; importing aiohttp also
costs ``lamina invoke`` about 0.1 s before anything runs. This server does only what those exchanges
need, on ``httptools`` (the binding of Node's llhttp that uvicorn uses); the Invoke API's port relays
the rest to aiohttp (:mod:`lamina.local.api.front`):

- requests on a keep-alive connection are answered in order, one at a time, pipelined or not (a
  runtime may send ``next`` behind its result); each runs as a task that is cancelled when the
  connection goes (``cancel_on_close``), except those an :class:`ImmediateAnswers` takes (a
  runtime's result and its ``next``), which are held without a task and answered through
  :meth:`HttpConnection.answer_held`; a held request whose connection goes is reported to it
  (``gone``), so a long-poll never dangles either way;
- bodies arrive as they are read (:meth:`Request.chunks`), with back-pressure: past
  ``_HIGH_WATER`` unread bytes, or ``_MAX_QUEUED`` pipelined requests waiting their turn, the
  connection stops reading until the handlers catch up;
- chunked requests keep their trailers (:attr:`Request.trailers`: a streamed response's error);
- a request's head may be as large as Lambda's Runtime API takes (``max_head``: an X-Ray error cause
  of up to 1 MiB travels in one header), beyond which it is answered ``431`` and the connection closed;
- :class:`ConnectionLimits` apply as on every server of ``lamina serve``: a connection whose request
  headers do not complete within the header timeout is closed, and past ``max_connections`` a new
  connection is answered ``503`` (one log line per burst of refusals).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import socket
from collections.abc import Iterator, Mapping
from typing import AsyncIterator, Awaitable, Callable, Optional, Protocol, Union, cast

import httptools

from lamina.local.runtime_api.connection_limits import (
    KEEPALIVE_IDLE,
    MAX_CONNECTIONS_ENV,
    ConnectionLimits,
    RefusedConnection,
)

__all__ = ["Answered", "Headers", "HttpConnection", "HttpServer", "Request", "Response"]

log = logging.getLogger("lamina.connections")

_HIGH_WATER = 1 << 20  # unread body bytes at which a connection stops reading
_LOW_WATER = 1 << 18
_MAX_QUEUED = 16  # pipelined requests waiting their turn at which a connection stops reading
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"
_NO_LENGTH = (204, 304)  # answers that carry no body and no Content-Length (RFC 9110 §8.6)
_SEPARATE_BODY = 64 * 1024  # bodies from this size go in their own write, not copied behind the head
_METHODS = {name.encode(): name for name in ("GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH")}
_REASONS = {200: "OK", 202: "Accepted", 400: "Bad Request", 403: "Forbidden", 404: "Not Found",
            405: "Method Not Allowed", 409: "Conflict", 410: "Gone", 413: "Request Entity Too Large",
            429: "Too Many Requests", 431: "Request Header Fields Too Large",
            500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}
_STATUS_LINES = {status: f"HTTP/1.1 {status} {reason}\r\n" for status, reason in _REASONS.items()}


class Headers(Mapping[str, str]):
    """A request's header (or trailer) fields; names compare case-insensitively, repeats are joined."""

    __slots__ = ("_fields",)

    def __init__(self, fields: Optional[dict[str, str]] = None) -> None:
        self._fields: dict[str, str] = {} if fields is None else fields

    @classmethod
    def parsed(cls, names: list[bytes], values: list[bytes]) -> Headers:
        """The fields of a head as the parser gave them, decoded all at once: one ``decode`` for all
        the names and one for all the values, not two per field (this runs for every request)."""
        if not names:
            return cls()
        keys = b"\n".join(names).decode("latin-1").lower().split("\n")  # a name has no line break
        texts = b"\n".join(values).decode("latin-1").split("\n")
        if len(texts) != len(values):  # a value with a line break in it (not one llhttp lets through)
            texts = [value.decode("latin-1") for value in values]
        fields = dict(zip(keys, texts))
        if len(fields) == len(keys):
            return cls(fields)
        headers = cls()  # a name repeated: its values joined, in order
        for key, text in zip(keys, texts):
            headers.add(key, text)
        return headers

    def __getitem__(self, name: str) -> str:
        return self._fields[name.lower()]

    def __iter__(self) -> Iterator[str]:
        return iter(self._fields)

    def __len__(self) -> int:
        return len(self._fields)

    def add(self, name: str, value: str) -> None:
        key = name.lower()
        earlier = self._fields.get(key)
        self._fields[key] = value if earlier is None else f"{earlier}, {value}"

    def get(self, name: str, default: Optional[str] = None) -> Optional[str]:  # type: ignore[override]
        return self._fields.get(name.lower(), default)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._fields


_NO_FIELDS = Headers()  # shared by every request that has none (trailers, mostly): never added to


class ConnectionGone(Exception):
    """The connection closed before the request's body was complete."""


class Request:
    """One request: method, path, headers now; the body as it arrives; trailers once it has ended."""

    __slots__ = ("_chunks", "_discarding", "_names", "_values", "_waiter", "complete", "connection",
                 "content_length", "headers", "http_version", "keep_alive", "method", "path", "query_string",
                 "target", "trailers", "unread")

    def __init__(self, connection: HttpConnection) -> None:
        self.connection = connection
        self.method = ""
        self.path = ""
        self.query_string = ""
        self.target = ""  # the request target as sent: path and query, undecoded
        self.http_version = "1.1"
        self.headers = _NO_FIELDS  # once the head is read
        self.trailers = _NO_FIELDS  # a Headers of their own once a chunked body's trailers come
        self._names: list[bytes] = []  # the head's fields as the parser gives them
        self._values: list[bytes] = []
        self.content_length: Optional[int] = None
        self.keep_alive = True
        self.unread = 0
        self._chunks: collections.deque[bytes] = collections.deque()
        self.complete = False  # whether the whole body has been read (it may still wait in chunks())
        self._discarding = False
        self._waiter: Optional[asyncio.Future[None]] = None

    @property
    def raw_headers(self) -> list[tuple[str, str]]:
        """The head's fields in order, as sent (names in their case; a relay passes them on)."""
        return [(name.decode("latin-1"), value.decode("latin-1"))
                for name, value in zip(self._names, self._values)]

    async def read(self) -> bytes:
        """The whole body (for bodies known to be small: see ``bodies.read_body`` otherwise)."""
        parts = [chunk async for chunk in self.chunks()]
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The body's pieces as they are read from the connection."""
        while True:
            if self._chunks:
                chunk = self._chunks.popleft()
                self.connection.consumed(len(chunk))
                yield chunk
                continue
            if self.complete:
                return
            if self.connection.closed:
                raise ConnectionGone
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None

    # --- the connection's side --------------------------------------------------------------------

    def feed(self, data: bytes) -> None:
        if self._discarding:
            return
        self._chunks.append(data)
        self.connection.buffered(len(data))
        self._wake()

    def finish(self) -> None:
        self.complete = True
        self._wake()

    def take_body(self) -> bytes:
        """The whole body of a request read to its end (what :class:`ImmediateAnswers` see)."""
        chunks, self._chunks = self._chunks, collections.deque()
        size = sum(map(len, chunks))
        self.connection.consumed(size)
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)

    def discard(self) -> None:
        """The handler is done: the rest of the body is read and dropped."""
        self._discarding = True
        if self._chunks:
            self.connection.consumed(sum(map(len, self._chunks)))
            self._chunks.clear()

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)


class Response:
    """An answer: status, body, content type and extra headers; ``close`` ends the connection after it."""

    __slots__ = ("_wire", "body", "close", "content_type", "headers", "status")

    def __init__(self, status: int = 200, body: bytes = b"", content_type: Optional[str] = "application/json",
                 headers: Optional[dict[str, str]] = None, close: bool = False) -> None:
        self.status = status
        self.body = body
        self.content_type = content_type
        self.headers = headers
        self.close = close
        self._wire: Optional[bytes] = None  # a constant's keep-alive encoding, once made

    @classmethod
    def constant(cls, status: int, body: bytes) -> Response:
        """An answer sent again and again unchanged (a result's 202): encoded once, never modified."""
        response = cls(status, body)
        response._wire = response.encode(keep_alive=True)
        return response

    @classmethod
    def text(cls, status: int, text: str) -> Response:
        return cls(status, text.encode(), "text/plain; charset=utf-8")

    def encode(self, keep_alive: bool, framing: str = "length") -> bytes:
        """The answer's head, and its body behind it unless large (:attr:`body_apart`). ``framing``
        ``"chunked"`` or ``"close"``: only the head of an answer whose body the caller writes after it,
        in chunks, or until it closes the connection (HTTP/1.0 has no chunks)."""
        if self._wire is not None and keep_alive and framing == "length":
            return self._wire
        chunked = framing == "chunked"
        status = self.status
        head = _STATUS_LINES.get(status) or f"HTTP/1.1 {status} {_reason(status)}\r\n"
        if self.content_type:
            head += f"Content-Type: {self.content_type}\r\n"
        if self.headers:
            for name, value in self.headers.items():
                if "\n" in value or "\r" in value:
                    value = _one_line(value)
                head += f"{name}: {value}\r\n"
        if chunked:
            head += "Transfer-Encoding: chunked\r\n"
        elif status not in _NO_LENGTH and framing == "length":
            head += f"Content-Length: {len(self.body)}\r\n"
        head += "\r\n" if keep_alive else "Connection: close\r\n\r\n"
        encoded = head.encode("latin-1")
        if framing != "length":
            return encoded
        return encoded + self.body if len(self.body) < _SEPARATE_BODY else encoded

    @property
    def body_apart(self) -> bool:
        """Whether the body is written on its own after :meth:`encode`'s head (a large one is not copied)."""
        return len(self.body) >= _SEPARATE_BODY


def _one_line(value: str) -> str:
    """A header value as it may go on the wire: a CR or LF in it (a caller's client context can carry
    them, as JSON whitespace) becomes a space, as Go's server does, so no caller can add headers or
    end the head of what the runtime reads."""
    if "\n" in value or "\r" in value:
        return value.replace("\r", " ").replace("\n", " ")
    return value


def _reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Answered:
    """What a handler returns when it wrote the answer to the connection itself (a relayed response);
    ``close``: the connection ends after it."""

    __slots__ = ("close",)

    def __init__(self, close: bool = False) -> None:
        self.close = close


Handler = Callable[[Request], Awaitable[Union[Response, Answered]]]


class ImmediateAnswers(Protocol):
    """Requests a server answers without a task: a small request whose answer is decided as soon as it
    is read (a runtime's result), or that waits for an event rather than for work (a runtime's ``next``
    long-poll). Whoever decides answers through :meth:`HttpConnection.answer_held`, now or later; until
    then the request is held, and the requests behind it on its connection wait their turn."""

    def wants(self, request: Request) -> bool:
        """Whether to hold ``request`` (its head just read) until its body is complete; its body must
        be small (at most ``_LOW_WATER`` bytes), since nothing reads it before then."""

    def answer(self, request: Request) -> bool:
        """Take a held request, now whole, to answer (``answer_held``); False: it goes to the handler."""

    def gone(self, request: Request) -> None:
        """The connection closed while ``request``, taken, was not answered yet."""


class HttpServer:
    """The connections of one server (any number of listening sockets) and the handler they call."""

    def __init__(self, handler: Handler, limits: ConnectionLimits, name: str,
                 max_head: int = 64 * 1024, keepalive_idle: float = KEEPALIVE_IDLE,
                 cancel_on_close: bool = True, immediate: Optional[ImmediateAnswers] = None) -> None:
        self.handler = handler
        self.immediate = immediate
        self.limits = limits
        self.name = name
        self.max_head = max_head
        self.keepalive_idle = keepalive_idle  # how long an idle keep-alive connection is kept
        # Whether a request's handler is cancelled when its connection closes (a Runtime API long-poll
        # is); if not, it runs to its end and its answer is dropped (an invocation whose caller left
        # still runs, as on Lambda).
        self.cancel_on_close = cancel_on_close
        self.connections: set[HttpConnection] = set()
        self._refusing = False

    def __call__(self) -> asyncio.Protocol:
        """A protocol for a new connection (the factory given to ``loop.create_server``)."""
        if len(self.connections) >= self.limits.max_connections:
            if not self._refusing:
                self._refusing = True
                log.warning("%s: %d connections open, its limit (%s); refusing new connections until "
                            "some close", self.name, self.limits.max_connections, MAX_CONNECTIONS_ENV)
            return RefusedConnection()
        self._refusing = False
        connection = HttpConnection(self)
        self.connections.add(connection)
        return connection

    def close_all(self) -> None:
        for connection in list(self.connections):
            connection.abort()



class HttpConnection(asyncio.Protocol):
    """One client connection: parses requests, runs their handlers in order, writes the answers.

    Besides HTTP it keeps what the Runtime API routes and checks by: the port the connection arrived
    on (:attr:`local_port`), the peer's port (:attr:`peer_port`) and whether the peer was found to be
    one of the environment's own processes (:attr:`peer_allowed`, decided once per connection).
    """

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.transport: Optional[asyncio.Transport] = None
        self.local_port: Optional[int] = None
        self.peer_port: Optional[int] = None
        self.peer_allowed: Optional[bool] = None
        self.closed = False
        self._parser = httptools.HttpRequestParser(self)
        self._parsing: Optional[Request] = None  # the request whose bytes are being read
        self._in_head = False
        self._head_size = 0
        self._url = b""
        self._queue: collections.deque[Request] = collections.deque()
        self._task: Optional[asyncio.Task[None]] = None
        self._held: Optional[Request] = None  # a request for ImmediateAnswers, until it is answered
        self._unread = 0
        self._paused = False
        self._last_activity = 0.0
        self._head_started = 0.0
        self._watchdog: Optional[asyncio.TimerHandle] = None
        self._failed = False
        self._write_paused = False
        self._drained: Optional[asyncio.Future[None]] = None
        self._loop = asyncio.get_running_loop()

    # --- asyncio.Protocol -------------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None:  # small answers go out at once, never held back for a full segment
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sockname = transport.get_extra_info("sockname")
        self.local_port = int(sockname[1]) if sockname else None
        peername = transport.get_extra_info("peername")
        self.peer_port = int(peername[1]) if peername else None
        self._last_activity = self._head_started = self._loop.time()
        self._in_head = True  # until the first request's headers: bound by the header timeout
        self._watchdog = self._loop.call_later(self.server.limits.header_timeout, self._watch)

    def data_received(self, data: bytes) -> None:
        if self._failed:  # answered and closing: the rest is read and dropped
            return
        if self._in_head:  # the parser holds a head until it ends: bound it
            if self._head_size > self.server.max_head:
                self._fail(431, "request header fields too large")
                return
            self._head_size += len(data)
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "upgrades are not supported")
        except httptools.HttpParserError as exc:
            self._fail(400, f"malformed request: {exc}")

    def connection_lost(self, exc: Optional[Exception]) -> None:
        self.closed = True
        self.server.connections.discard(self)
        if self._watchdog is not None:
            self._watchdog.cancel()
        if self._task is not None and self.server.cancel_on_close:
            self._task.cancel()
        for request in (self._parsing, *self._queue):
            if request is not None:
                request._wake()
        held, self._held = self._held, None
        if held is not None and held.complete and self.server.immediate is not None:
            self.server.immediate.gone(held)  # taken, never answered: a long-poll left waiting
        self.resume_writing()

    def pause_writing(self) -> None:  # the transport buffers what it cannot send yet
        self._write_paused = True

    def resume_writing(self) -> None:
        self._write_paused = False
        drained, self._drained = self._drained, None
        if drained is not None and not drained.done():
            drained.set_result(None)

    def write_response(self, response: Response, keep_alive: bool) -> bool:
        """Write ``response`` now; False if the connection is gone. For a handler that answers before
        it returns (it then returns :class:`Answered`): requests are answered in order, so only the
        request whose handler is running may be answered."""
        transport = self.transport
        if transport is None or self.closed:
            return False
        transport.write(response.encode(keep_alive))
        if len(response.body) >= _SEPARATE_BODY:  # not copied behind the head (Response.body_apart)
            transport.write(response.body)
        return True

    async def drain(self) -> None:
        """Wait while the transport holds more than its high-water mark of unsent bytes (a handler
        writing a long answer itself: :class:`Answered`)."""
        if self.closed:
            raise ConnectionGone
        if self._write_paused:
            if self._drained is None:
                self._drained = self._loop.create_future()
            await self._drained

    # --- httptools callbacks ----------------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._parsing = Request(self)
        self._url = b""
        if not self._in_head:
            self._in_head = True
            self._head_size = 0
            self._head_started = self._loop.time()

    def on_url(self, url: bytes) -> None:
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        request = self._parsing
        if request is None:
            return
        if self._in_head:  # decoded together once the head ends (Headers.parsed)
            request._names.append(name)
            request._values.append(value)
        else:
            if request.trailers is _NO_FIELDS:
                request.trailers = Headers()
            request.trailers.add(name.decode("latin-1"), value.decode("latin-1"))

    def on_headers_complete(self) -> None:
        request = self._parsing
        assert request is not None
        self._in_head = False
        self._head_size = 0
        headers = request.headers = Headers.parsed(request._names, request._values)
        fields = headers._fields  # lower-case names: looked up directly
        target = request.target = self._url.decode("latin-1")
        request.path, _, request.query_string = target.partition("?")
        parser = self._parser
        method = parser.get_method()
        request.method = _METHODS.get(method) or method.decode("latin-1")
        request.http_version = parser.get_http_version()
        request.keep_alive = parser.should_keep_alive()
        length = fields.get("content-length")
        request.content_length = int(length) if length is not None and length.isdigit() else None
        expect = fields.get("expect")
        if expect is not None and expect.lower() == "100-continue" and self.transport is not None:
            self.transport.write(_CONTINUE)
        self._queue.append(request)
        if self._task is None and self._held is None:
            self._start_next()
        elif len(self._queue) >= _MAX_QUEUED:
            self._throttle()

    def on_body(self, body: bytes) -> None:
        if self._parsing is not None:
            self._parsing.feed(body)

    def on_message_complete(self) -> None:
        request = self._parsing
        if request is not None:
            request.finish()
            self._parsing = None
        self._last_activity = self._loop.time()
        if request is not None and request is self._held:
            self._answer_held(request)

    def _answer_held(self, request: Request) -> None:
        immediate = self.server.immediate
        assert immediate is not None
        self._queue.popleft()  # the held request heads the queue; it may be answered from inside answer()
        try:
            taken = immediate.answer(request)
        except Exception:
            log.exception("%s: handler failed for %s %s", self.server.name, request.method, request.path)
            self.answer_held(request, Response.text(500, "internal error"))  # unless answered already
            return
        if not taken:  # to the handler, as any request
            self._held = None
            self._task = self._loop.create_task(self._run(request))

    def answer_held(self, request: Request, response: Response) -> bool:
        """Answer ``request``, held for :class:`ImmediateAnswers`; False if it is not held (any more),
        or its connection is gone."""
        if self._held is not request or self.closed:
            return False
        self._held = None
        keep_alive = request.keep_alive and not response.close
        self.write_response(response, keep_alive)
        self._answered(keep_alive)
        return True

    # --- running requests -------------------------------------------------------------------------

    def _start_next(self) -> None:
        """Go on with the first request waiting its turn: held for :class:`ImmediateAnswers` (answered
        once it is whole), or run by its handler in a task."""
        self._task = None
        if self._queue and not self.closed:
            request = self._queue[0]
            immediate = self.server.immediate
            if immediate is not None and immediate.wants(request):
                self._held = request
                if request.complete:  # else when its last byte is read (on_message_complete)
                    self._answer_held(request)
            else:
                self._task = self._loop.create_task(self._run(self._queue.popleft()))
        if self._paused:  # a request left the queue: reading may go on
            self._throttle()

    async def _run(self, request: Request) -> None:
        try:
            response: Union[Response, Answered, None] = await self.server.handler(request)
        except asyncio.CancelledError:
            raise
        except ConnectionGone:
            return
        except Exception:
            log.exception("%s: handler failed for %s %s", self.server.name, request.method, request.path)
            response = Response.text(500, "internal error")
        request.discard()
        transport = self.transport
        if transport is None or self.closed or response is None:
            return
        keep_alive = request.keep_alive and not response.close
        if not isinstance(response, Answered):  # else written already
            self.write_response(response, keep_alive)
        self._answered(keep_alive)

    def _answered(self, keep_alive: bool) -> None:
        """A request is answered: close (gracefully) or go on with the next one."""
        self._last_activity = self._loop.time()
        if not keep_alive:
            self.abort(graceful=True)
            return
        self._start_next()

    # --- flow control and bounds -------------------------------------------------------------------

    def buffered(self, size: int) -> None:
        self._unread += size
        if not self._paused and self._unread > _HIGH_WATER:
            self._throttle()

    def consumed(self, size: int) -> None:
        self._unread -= size
        if self._paused and self._unread < _LOW_WATER:
            self._throttle()

    def _throttle(self) -> None:
        """Stop reading while unread body bytes or waiting requests pile up; read again once they
        are down (memory stays bounded whatever a client sends ahead)."""
        transport = self.transport
        if transport is None or self.closed:
            return
        behind = self._unread > _HIGH_WATER or len(self._queue) >= _MAX_QUEUED
        caught_up = self._unread < _LOW_WATER and len(self._queue) < _MAX_QUEUED // 2
        if behind and not self._paused:
            self._paused = True
            transport.pause_reading()
        elif caught_up and self._paused:
            self._paused = False
            transport.resume_reading()

    def _watch(self) -> None:
        """Close a connection whose request head is overdue, or that has been idle too long."""
        if self.closed:
            return
        now = self._loop.time()
        timeout = self.server.limits.header_timeout
        idle = self._task is None and self._parsing is None and self._held is None
        if (self._in_head and now - self._head_started >= timeout) or (
                idle and now - self._last_activity >= self.server.keepalive_idle):
            self.abort()
            return
        self._watchdog = self._loop.call_later(timeout, self._watch)

    def _fail(self, status: int, message: str) -> None:
        """Answer an unreadable request and close. The client may still be sending: closing at once
        would reset the connection and lose the answer, so the write side is shut and the rest read
        and dropped, for at most a second (a lingering close, as HTTP servers do)."""
        transport = self.transport
        self._failed = True
        if transport is None or self.closed:
            return
        transport.write(Response.text(status, message + "\n").encode(keep_alive=False))
        if transport.can_write_eof():
            transport.write_eof()
            self._loop.call_later(1.0, self.abort)
        else:
            self.abort(graceful=True)

    def abort(self, graceful: bool = False) -> None:
        transport = self.transport
        if transport is not None and not transport.is_closing():
            if graceful:
                transport.close()
            else:
                transport.abort()
