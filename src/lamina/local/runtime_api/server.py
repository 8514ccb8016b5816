"""The Runtime API server: the HTTP side execution environments talk to (``AWS_LAMBDA_RUNTIME_API``).

One server serves every environment; each environment gets its own listening socket (its own
``127.0.0.1:port``, as each Lambda sandbox has its own ``127.0.0.1:9001``), and a request is routed to
its environment by the port it arrived on. It is the lean HTTP/1.1 server of
:mod:`~lamina.local.runtime_api.http1` with a dispatch on the few fixed paths, because this server is
on every invocation's path twice. Handlers only move bytes: every decision is taken by the
environment's lifecycle (:mod:`lamina.local.lifecycle`).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Awaitable, Optional, Protocol, Union

from lamina.local.lifecycle.states import ACCEPTED, Deliverer, Invocation, Reply
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api import extensions as extensions_api
from lamina.local.runtime_api import peers, streaming
from lamina.local.runtime_api.bodies import read_body
from lamina.local.runtime_api.connection_limits import ConnectionLimits
from lamina.local.runtime_api.http1 import HttpConnection, HttpServer, Request, Response
from lamina.local.runtime_api.relay import StreamRelay
from lamina.runtime import error_types, protocol

_PREFIX = f"/{protocol.API_VERSION}"
NextAnswer = Union[Reply, tuple[Invocation, int]]  # a refusal, or the event and its deadline


class RuntimeApiHandler(Protocol):
    """What an execution environment answers to its runtime (implemented by ExecutionEnvironment)."""

    @property
    def config(self) -> FunctionConfig: ...

    def on_next(self) -> Awaitable[NextAnswer]: ...

    @property
    def parks_next(self) -> bool:
        """Whether ``next`` may be parked (:meth:`park_next`) instead of awaited (:meth:`on_next`)."""

    def park_next(self, deliver: Deliverer) -> Optional[NextAnswer]:
        """``next`` without a task: its answer now, or None: ``deliver`` writes the event later."""

    def next_abandoned(self, deliver: Deliverer) -> None:
        """The connection of the ``next`` parked with ``deliver`` closed before an event came."""

    def on_response(self, request_id: str, body: bytes, size: int, content_type: str) -> Reply: ...

    def on_error(self, request_id: str, body: bytes, content_type: Optional[str],
                 error_type: Optional[str]) -> Reply: ...

    def on_init_error(self, body: bytes, content_type: Optional[str], error_type: Optional[str]) -> Reply: ...

    def on_restore_next(self) -> Optional[Reply]:
        """SnapStart's ``restore/next``; None where the path does not exist (not a SnapStart function)."""

    def on_restore_error(self, body: bytes, content_type: Optional[str],
                         error_type: Optional[str]) -> Optional[Reply]: ...

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]:
        """The relay of ``request_id`` if the environment is running it and its caller streams."""

    def pids(self) -> list[int]:
        """The environment's live processes: the only ones whose connections are answered."""

    @property
    def extensions(self) -> extensions_api.ExtensionsApiHandler:
        """The Extensions API and Telemetry API of the environment."""


def _event(invocation: Invocation, deadline_ms: int) -> Response:
    headers = invocation.next_headers(deadline_ms)
    return Response(200, invocation.payload, invocation.content_type, headers=headers)


def _reply(reply: Reply) -> Response:
    return _ACCEPTED if reply is ACCEPTED else Response(reply.status, reply.body)


async def _body(request: Request) -> bytes:
    return (await read_body(request.chunks(), request.content_length, protocol.MAX_SYNC_RESPONSE))[0]


# Another process of this machine (another function's, say) connected to this environment's port.
_FOREIGN_PEER = Reply.error(403, "AccessDeniedException", "The Runtime API of an execution environment "
                            "answers only that environment's processes")
_ACCEPTED = Response.constant(ACCEPTED.status, ACCEPTED.body)  # the answer to nearly every post
_INVOCATION_PREFIX = f"{_PREFIX}/runtime/invocation/"
_RESPONSE_SUFFIX = "/response"
_IMMEDIATE_RESULT = 256 * 1024
_RESTORE_PATHS = (protocol.PATH_RESTORE_NEXT, protocol.PATH_RESTORE_ERROR)
# A request head as long as Lambda takes: awslambdaric posts an X-Ray error cause of up to 1 MiB in one
# header (a deep traceback's is far over the usual 8,190 bytes), and AWS's emulator accepts it.
MAX_HEADER_LINE = protocol.MAX_XRAY_CAUSE + 1024
MAX_HEAD = MAX_HEADER_LINE + 64 * 1024


class _Immediate:
    """The two requests of every invocation, answered without a task (``ImmediateAnswers``):

    - a runtime's result (``/response``, not streamed, up to 256 KiB: nearly all of them), taken as
      soon as it is read; its 202 follows one loop step later, after the caller's answer it made ready;
    - a runtime's ``next``, answered at once when there is an answer, else parked: the environment
      writes the event through the connection when it hands an invocation over (``park_next``).

    Anything else, and any caller that is not the environment's own process, goes to the handler.
    """

    def __init__(self, server: RuntimeApiServer) -> None:
        self._server = server
        self._parked: dict[Request, tuple[RuntimeApiHandler, Deliverer]] = {}

    def wants(self, request: Request) -> bool:
        length = request.content_length
        if request.method == "GET":
            return request.path == protocol.PATH_NEXT and not length
        return (request.method == "POST" and request.path.endswith(_RESPONSE_SUFFIX)
                and request.path.startswith(_INVOCATION_PREFIX) and length is not None
                and length <= _IMMEDIATE_RESULT and protocol.HEADER_RESPONSE_MODE not in request.headers)

    def answer(self, request: Request) -> bool:
        environment, allowed = self._server.caller(request.connection)
        if environment is None or not allowed:
            return False  # the handler's answer
        if request.method == "GET":
            return self._next(environment, request)
        request_id = request.path[len(_INVOCATION_PREFIX):-len(_RESPONSE_SUFFIX)]
        if not request_id or "/" in request_id:
            return False
        body = request.take_body()
        content_type = request.headers.get("Content-Type") or protocol.CONTENT_TYPE_JSON
        reply = _reply(environment.on_response(request_id, body, len(body), content_type))
        asyncio.get_running_loop().call_soon(request.connection.answer_held, request, reply)
        return True

    def _next(self, environment: RuntimeApiHandler, request: Request) -> bool:
        if not environment.parks_next:
            return False
        connection = request.connection

        def deliver(invocation: Invocation, deadline_ms: int) -> bool:
            self._parked.pop(request, None)
            return connection.answer_held(request, _event(invocation, deadline_ms))

        answer = environment.park_next(deliver)
        if answer is None:
            self._parked[request] = (environment, deliver)
        elif isinstance(answer, Reply):
            connection.answer_held(request, _reply(answer))
        else:
            connection.answer_held(request, _event(*answer))
        return True

    def gone(self, request: Request) -> None:
        parked = self._parked.pop(request, None)
        if parked is not None:
            environment, deliver = parked
            environment.next_abandoned(deliver)


class RuntimeApiServer:
    """Serves the Runtime API for every execution environment of this process."""

    def __init__(self, host: str = "127.0.0.1", limits: Optional[ConnectionLimits] = None) -> None:
        self.host = host
        self._environments: dict[int, RuntimeApiHandler] = {}
        self._listeners: dict[int, asyncio.AbstractServer] = {}
        # Header timeout and connection bound over all environments' sockets (connection_limits).
        self.http = HttpServer(self._dispatch, limits or ConnectionLimits.from_environment(), "Runtime API",
                               max_head=MAX_HEAD, immediate=_Immediate(self))

    async def attach(self, environment: RuntimeApiHandler) -> str:
        """Open a listening socket for ``environment``; return its ``host:port`` address."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.host, 0))
        sock.listen(16)
        sock.setblocking(False)
        port = int(sock.getsockname()[1])
        self._environments[port] = environment
        self._listeners[port] = await asyncio.get_running_loop().create_server(self.http, sock=sock)
        return f"{self.host}:{port}"

    async def detach(self, address: str) -> None:
        port = int(address.rsplit(":", 1)[1])
        self._environments.pop(port, None)
        listener = self._listeners.pop(port, None)
        if listener is not None:
            listener.close()
            for connection in list(self.http.connections):
                if connection.local_port == port:
                    connection.abort()

    async def close(self) -> None:
        for address in [f"{self.host}:{port}" for port in list(self._listeners)]:
            await self.detach(address)
        self.http.close_all()

    def caller(self, connection: HttpConnection) -> tuple[Optional[RuntimeApiHandler], bool]:
        """The environment whose port ``connection`` came to (None: gone), and whether it comes from
        that environment's own processes."""
        port = connection.local_port
        environment = self._environments.get(port) if port is not None else None
        if environment is None or port is None:
            return None, False
        return environment, self._peer_allowed(connection, environment, port)

    async def _dispatch(self, request: Request) -> Response:
        environment, allowed = self.caller(request.connection)
        if environment is None:
            return Response.text(500, "execution environment is gone")
        if not allowed:
            refusal = _reply(_FOREIGN_PEER)
            refusal.close = True  # the connection answers nothing more
            return refusal
        path, method = request.path, request.method
        if method == "GET" and path == protocol.PATH_NEXT:
            return await self._next(environment)
        if method == "POST" and path.startswith(_INVOCATION_PREFIX):
            request_id, _, action = path[len(_INVOCATION_PREFIX):].partition("/")
            if action == "response" and request_id:
                return await self._response(environment, request, request_id)
            if action == "error" and request_id:
                return await self._error(environment, request, request_id)
        if method == "POST" and path == protocol.PATH_INIT_ERROR:
            return await self._init_error(environment, request)
        if path in _RESTORE_PATHS:
            return await self._restore(environment, request)
        if method == "GET" and path == f"{_PREFIX}/ping":
            return Response.text(200, "pong")
        if path in extensions_api.PATHS:
            return await extensions_api.handle(environment.extensions, request)
        return Response.text(404, "404 page not found\n")

    @staticmethod
    def _peer_allowed(connection: HttpConnection, environment: RuntimeApiHandler, port: int) -> bool:
        """Whether the connection comes from the environment's own processes (once per connection)."""
        if connection.peer_allowed is None:
            peer = connection.peer_port
            owners = environment.pids()
            connection.peer_allowed = peer is not None and peers.connection_from(port, peer, owners)
        return connection.peer_allowed

    async def _next(self, environment: RuntimeApiHandler) -> Response:
        """``next`` in a task: a managed instance's polls (several at once, answered in turn). A
        single-invocation environment's ``next`` is parked without a task (:class:`_Immediate`)."""
        answer = await environment.on_next()
        if isinstance(answer, Reply):
            return _reply(answer)
        return _event(*answer)

    async def _response(self, environment: RuntimeApiHandler, request: Request, request_id: str) -> Response:
        mode = request.headers.get(protocol.HEADER_RESPONSE_MODE)
        if mode is not None and mode != protocol.RESPONSE_MODE_STREAMING:
            await read_body(request.chunks(), request.content_length, 0)  # read and dropped
            message = "Invalid function response mode"
            return _reply(Reply.error(400, error_types.INVALID_RESPONSE_MODE, message))
        if mode == protocol.RESPONSE_MODE_STREAMING:
            return _reply(await streaming.receive(environment, request, request_id))
        body, size = await read_body(request.chunks(), request.content_length, protocol.MAX_SYNC_RESPONSE)
        content_type = request.headers.get("Content-Type") or protocol.CONTENT_TYPE_JSON
        reply = environment.on_response(request_id, body, size, content_type)
        # One loop step before the 202: the caller's answer, just made ready, goes out first (nobody
        # waits for the 202; a pipelined runtime does not even read it before its next event).
        await asyncio.sleep(0)
        return _reply(reply)

    async def _error(self, environment: RuntimeApiHandler, request: Request, request_id: str) -> Response:
        body = await _body(request)
        return _reply(environment.on_error(request_id, body, request.headers.get("Content-Type"),
                                           request.headers.get(protocol.HEADER_ERROR_TYPE)))

    async def _restore(self, environment: RuntimeApiHandler, request: Request) -> Response:
        """SnapStart's ``restore/next`` and ``restore/error`` (only in SnapStart environments)."""
        if request.method == "GET" and request.path == protocol.PATH_RESTORE_NEXT:
            reply = environment.on_restore_next()
        elif request.method == "POST" and request.path == protocol.PATH_RESTORE_ERROR:
            body = await _body(request)
            reply = environment.on_restore_error(body, request.headers.get("Content-Type"),
                                                 request.headers.get(protocol.HEADER_ERROR_TYPE))
        else:
            reply = None
        if reply is None:
            return Response.text(404, "404 page not found")
        return _reply(reply) if reply.body else Response(reply.status, content_type=None)

    async def _init_error(self, environment: RuntimeApiHandler, request: Request) -> Response:
        body = await _body(request)
        return _reply(environment.on_init_error(body, request.headers.get("Content-Type"),
                                                request.headers.get(protocol.HEADER_ERROR_TYPE)))
