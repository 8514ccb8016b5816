"""The Invoke API's port: its hottest call answered on the lean HTTP server, the rest relayed to aiohttp.

An invocation through ``lamina serve`` is three HTTP exchanges: the caller's, and the runtime's
``next`` and result on the Runtime API. The Runtime API runs on the lean server
(:mod:`lamina.local.runtime_api.http1`); aiohttp's request and response machinery on the caller's
exchange cost more than everything lamina itself does for an invocation (``bench/local_bench.py``).
So the public port is a lean server too:

- ``Invoke`` (boto3's, the CLI's) and AWS's emulator path (``/2015-03-31/functions/function/invocations``,
  what scripts written against the emulator and the benchmark send) are run and answered here, by the
  same code as the aiohttp routes (:mod:`lamina.local.api.invoke`), after the same access check
  (:func:`~lamina.local.api.access.check`); a streamed response goes out chunked as it is produced;
- every other request (the control plane, InvokeWithResponseStream, CORS, ``--auth``'s signature
  checks, refusals) is relayed as it came to the aiohttp application, which listens on a Unix socket
  in a private directory, and its answer relayed back as it is produced. The relay keeps the caller's
  connection alive, and the application applies its own checks to every relayed request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import shutil
import tempfile
import time
from email.utils import formatdate
from pathlib import Path
from typing import Optional, Union
from urllib.parse import parse_qsl, unquote

from aiohttp import web

from lamina.local.api import access
from lamina.local.api.access import AccessConfig
from lamina.local.api.invoke import (
    EMULATOR_PATH,
    INVOCATION_TYPES,
    LOCAL_LAMBDA_KEY,
    Streamed,
    emulator_answer,
    invoke_answer,
    invoke_call,
    invoke_head,
)
from lamina.local.api.responses import service_error_parts
from lamina.local.invoke import streaming as streaming_relay
from lamina.local.invoke.service import InvocationResult
from lamina.local.model.request_ids import new_request_id
from lamina.local.model.service_errors import ServiceError
from lamina.local.runtime_api.bodies import read_body
from lamina.local.runtime_api.connection_limits import KEEPALIVE_TIMEOUT, ConnectionLimits
from lamina.local.runtime_api.http1 import (
    Answered,
    ConnectionGone,
    HttpConnection,
    HttpServer,
    Request,
    Response,
)
from lamina.local.runtime_api.relay import StreamRelay
from lamina.runtime import protocol

__all__ = ["InvokeFront", "serve_front"]

log = logging.getLogger("lamina.connections")

# Fields that describe one connection (RFC 9110 §7.6.1), not the request: the relay's own connection
# to aiohttp has its own (it asks for ``close``); ``Expect`` was answered here already.
_HOP_BY_HOP = frozenset({"connection", "keep-alive", "proxy-connection", "te", "trailer", "upgrade",
                         "expect"})
_READ = 256 * 1024
_MAX_ANSWER_HEAD = 1 << 20
_BODILESS = (204, 304)
_FUNCTIONS = "/2015-03-31/functions/"
_INVOCATIONS = "/invocations"
_BACKLOG = 4096  # connections waiting for the application's accept (the kernel caps it at somaxconn)
_CONNECT_ATTEMPTS = 40


class InvokeFront:
    """The handler of the Invoke API's lean server: answers the emulator path, relays everything else."""

    def __init__(self, app: web.Application, socket_path: str,
                 access_config: Optional[AccessConfig]) -> None:
        self._local = app[LOCAL_LAMBDA_KEY]
        self._socket_path = socket_path
        self._access = access_config
        self._date = ""
        self._date_second = -1

    async def __call__(self, request: Request) -> Union[Response, Answered]:
        path = request.path
        if path.startswith(_FUNCTIONS) and path.endswith(_INVOCATIONS) and self._plain(request):
            if path == EMULATOR_PATH and "authorization" not in request.headers:
                return await self._emulator(request)
            name = path[len(_FUNCTIONS):-len(_INVOCATIONS)]
            if request.method == "POST" and name and "/" not in name:
                return await self._invoke(request, unquote(name))
        return await self._relay(request)

    def _plain(self, request: Request) -> bool:
        """Whether the access rules let the request through with nothing to add: no origin (CORS),
        no signature to verify (``--auth``), nothing refused (refusals are rendered by the app)."""
        headers = request.headers
        if "origin" in headers:
            return False
        config = self._access
        if config is None:
            return True
        if config.credentials is not None:
            return False
        return access.check(request.method, request.path, headers, config) is None

    async def _emulator(self, request: Request) -> Response:
        config = self._local.registry.default()
        if config is None:
            return self._answer(404, b"404 page not found", {"Content-Type": "text/plain; charset=utf-8"})
        payload, _ = await _payload(request, protocol.MAX_SYNC_RESPONSE, truncate=True)  # cut, as RIE
        return self._answer(*await emulator_answer(self._local, config, payload, request.headers))

    async def _invoke(self, request: Request, name: str) -> Union[Response, Answered]:
        """AWS's ``Invoke`` (:func:`~lamina.local.api.invoke.invoke`, on this server)."""
        request_id = new_request_id()
        local = self._local
        try:
            qualifier = next((value for key, value in parse_qsl(request.query_string, keep_blank_values=True)
                              if key == "Qualifier"), None)
            head = invoke_head(local, name, qualifier, request.headers, INVOCATION_TYPES)
            payload, size = await _payload(request, head.limit)
            call = invoke_call(head, payload, size, request.headers)
            tail = request.headers.get("X-Amz-Log-Type") == "Tail"
            answer = await invoke_answer(local, call, request_id, tail)
        except ServiceError as error:
            return self._answer(*service_error_parts(error, request_id))
        if isinstance(answer, Streamed):
            return await self._stream(request, answer.relay, answer.task, answer.headers, tail)
        return self._answer(*answer)

    async def _stream(self, request: Request, relay: StreamRelay, task: asyncio.Task[InvocationResult],
                      headers: dict[str, str], tail: bool) -> Answered:
        """A streamed response, written as chunked HTTP while the runtime produces it; how it ended
        goes in the trailers (as :func:`~lamina.local.invoke.streaming.stream_out` writes it)."""
        connection = request.connection
        chunked = request.http_version != "1.0"  # HTTP/1.0 has no chunks: the close ends the answer
        headers["Date"] = self._http_date()
        if chunked:
            headers["Trailer"] = streaming_relay.TRAILER_HEADER
        answer = Response(200, b"", relay.content_type, headers=headers)
        head = answer.encode(request.keep_alive and chunked, "chunked" if chunked else "close")
        transport = connection.transport
        if transport is None or connection.closed:
            relay.abandon()
            await task
            return Answered(close=True)
        transport.write(head)
        try:
            async for chunk in relay.chunks():
                if connection.closed:
                    raise ConnectionGone
                transport.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await connection.drain()
        except ConnectionGone:
            relay.abandon()
            await task  # the caller left; the invocation still runs to its end, as on Lambda
            return Answered(close=True)
        trailers = streaming_relay.trailer_fields(await task, relay, tail)
        if not chunked:
            return Answered(close=True)
        if not connection.closed:
            transport.write(b"0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in trailers).encode("latin-1")
                            + b"\r\n")
        return Answered(close=not request.keep_alive)

    def _answer(self, status: int, body: bytes, headers: dict[str, str]) -> Response:
        headers["Date"] = self._http_date()
        return Response(status, body, headers.pop("Content-Type", None), headers=headers)

    def _http_date(self) -> str:
        """The ``Date`` header HTTP/1.1 servers send (Go's, so AWS's emulator's; aiohttp's), made once a
        second."""
        now = int(time.time())
        if now != self._date_second:
            self._date_second, self._date = now, formatdate(now, usegmt=True)
        return self._date

    # --- the relay to aiohttp ---------------------------------------------------------------------

    async def _relay(self, request: Request) -> Union[Response, Answered]:
        connection = request.connection
        try:
            reader, writer = await self._connect()
        except OSError as exc:
            log.error("Invoke API: the application socket is unreachable: %s", exc)
            return Response.text(503, "the local Lambda is stopping")
        try:
            await self._send(request, writer)
            return await self._answer_back(request, connection, reader)
        except ConnectionGone:
            return Answered(close=True)
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError):
            connection.abort()  # the answer broke off: the caller must not read it as whole
            return Answered(close=True)
        finally:
            writer.close()

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        """A connection to the application; a full accept queue (a burst of callers) is waited out."""
        for attempt in range(_CONNECT_ATTEMPTS):
            try:
                return await asyncio.open_unix_connection(self._socket_path, limit=_MAX_ANSWER_HEAD)
            except BlockingIOError:  # EAGAIN: the backlog is full for now
                await asyncio.sleep(min(0.001 * 2 ** attempt, 0.1))
        return await asyncio.open_unix_connection(self._socket_path, limit=_MAX_ANSWER_HEAD)

    @staticmethod
    async def _send(request: Request, writer: asyncio.StreamWriter) -> None:
        """The request as it came, on a connection of its own that aiohttp closes after answering."""
        chunked = False
        # In the caller's version: aiohttp frames its answer for it (an HTTP/1.0 caller gets no chunks).
        lines = [f"{request.method} {request.target} HTTP/{request.http_version}\r\n"]
        for name, value in request.raw_headers:
            lower = name.lower()
            if lower in _HOP_BY_HOP:
                continue
            chunked = chunked or (lower == "transfer-encoding" and "chunked" in value.lower())
            lines.append(f"{name}: {value}\r\n")
        lines.append("Connection: close\r\n\r\n")
        writer.write("".join(lines).encode("latin-1"))
        try:
            async for chunk in request.chunks():
                writer.write(b"%x\r\n%s\r\n" % (len(chunk), chunk) if chunked else chunk)
                await writer.drain()
            if chunked:
                writer.write(b"0\r\n\r\n")
            await writer.drain()
        except ConnectionError:
            pass  # aiohttp answered before reading it all (a refusal): that answer is relayed

    @staticmethod
    async def _answer_back(request: Request, connection: HttpConnection,
                           reader: asyncio.StreamReader) -> Answered:
        """aiohttp's answer, relayed as it comes; its ``Connection: close`` (the relay's own) dropped
        when the answer's length is known, so the caller's connection stays open."""
        head = await reader.readuntil(b"\r\n\r\n")
        status_line, _, fields = head[:-4].partition(b"\r\n")
        parts = status_line.split(b" ", 2)
        status = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
        kept = [line for line in fields.split(b"\r\n")
                if line and not line.lower().startswith(b"connection:")]
        names = {line.split(b":", 1)[0].strip().lower() for line in kept}
        delimited = (b"content-length" in names or b"transfer-encoding" in names or request.method == "HEAD"
                     or status in _BODILESS or 100 <= status < 200)
        close = not delimited or not request.keep_alive
        if close:
            kept.append(b"Connection: close")
        transport = connection.transport
        if transport is None or connection.closed:
            raise ConnectionGone
        transport.write(b"\r\n".join([status_line, *kept]) + b"\r\n\r\n")
        while True:
            data = await reader.read(_READ)
            if not data:
                return Answered(close=close)
            if connection.closed:
                raise ConnectionGone
            transport.write(data)
            await connection.drain()


async def _payload(request: Request, limit: int, truncate: bool = False) -> tuple[bytes, int]:
    """The body and its size (:func:`~lamina.local.runtime_api.bodies.read_body`); one already read
    whole, as nearly every payload is, is taken at once."""
    length = request.content_length
    if request.complete and length is not None and length <= limit:
        return request.take_body(), length
    return await read_body(request.chunks(), length, limit, truncate)


class ServingApp:
    """The Invoke API's port and the aiohttp application behind it; :meth:`cleanup` stops both."""

    def __init__(self, runner: web.AppRunner, server: HttpServer, listener: asyncio.AbstractServer,
                 socket_dir: str) -> None:
        self.runner = runner
        self.server = server
        self._listener = listener
        self._socket_dir = socket_dir

    async def cleanup(self) -> None:
        self._listener.close()
        self.server.close_all()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._listener.wait_closed(), 5)
        try:
            await self.runner.cleanup()
        finally:
            shutil.rmtree(self._socket_dir, ignore_errors=True)


async def serve_front(app: web.Application, host: str, port: int, limits: ConnectionLimits) -> ServingApp:
    """Start ``app`` behind the lean front on ``host:port`` (``OSError`` if it cannot listen)."""
    from lamina.local.api.middleware import ACCESS_KEY

    socket_dir = tempfile.mkdtemp(prefix="lamina-api-")  # 0700: only this user reaches the socket
    socket_path = str(Path(socket_dir) / "api.sock")
    runner = web.AppRunner(app, access_log=None, keepalive_timeout=KEEPALIVE_TIMEOUT)
    await runner.setup()
    try:
        await web.UnixSite(runner, socket_path, backlog=_BACKLOG).start()
        front = InvokeFront(app, socket_path, app.get(ACCESS_KEY))
        server = HttpServer(front, limits, "Invoke API", keepalive_idle=KEEPALIVE_TIMEOUT,
                            cancel_on_close=False)
        listener = await asyncio.get_running_loop().create_server(server, host, port)
    except BaseException:
        await runner.cleanup()
        shutil.rmtree(socket_dir, ignore_errors=True)
        raise
    return ServingApp(runner, server, listener, socket_dir)
