"""Connection bounds for the aiohttp servers (Invoke API, HTTP front): :class:`ConnectionLimits`
applied by wrapping aiohttp's protocol factory (:class:`ConnectionLimiter`, served by :class:`LimitedSite`).

- **header timeout**: on accept, a timer is armed; when it fires, a connection on which no request's
  headers have been parsed yet is closed. Nothing runs per read or per request. Later requests on a
  keep-alive connection are bounded by aiohttp's keep-alive timeout, which also covers a connection
  waiting for the next request's headers.
- **connection count**: beyond ``max_connections`` open connections, a new one is answered ``503``
  and closed, with one log line per burst of refusals.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import Optional

from aiohttp import web, web_protocol, web_server

from lamina.local.runtime_api.connection_limits import (
    MAX_CONNECTIONS_ENV,
    ConnectionLimits,
    RefusedConnection,
)

__all__ = ["ConnectionLimiter", "LimitedSite"]

log = logging.getLogger("lamina.connections")



class ConnectionLimiter:
    """The protocol factory of one server (all its sites): aiohttp's, within :class:`ConnectionLimits`."""

    def __init__(self, server: web_server.Server, limits: ConnectionLimits, name: str) -> None:
        self._server = server
        self.limits = limits
        self.name = name
        # Connections accepted in this loop iteration: aiohttp counts a connection from its
        # connection_made, which the loop calls on its next iteration.
        self._arriving = 0
        self._refused: Optional[int] = None  # refusals in the current burst

    @property
    def open_connections(self) -> int:
        return len(self._server.connections) + self._arriving

    def __call__(self) -> asyncio.BaseProtocol:
        loop = asyncio.get_running_loop()
        if self.open_connections >= self.limits.max_connections:
            if self._refused is None:
                self._refused = 0
                log.warning("%s: %d connections open, its limit (%s); refusing new connections "
                            "until some close", self.name, self.limits.max_connections, MAX_CONNECTIONS_ENV)
            self._refused += 1
            return RefusedConnection()
        self._refused = None
        if not self._arriving:
            loop.call_soon(self._arrived)
        self._arriving += 1
        handler = self._server()
        loop.call_later(self.limits.header_timeout, _close_without_request, handler)
        return handler

    def _arrived(self) -> None:
        self._arriving = 0


def _close_without_request(handler: web_protocol.RequestHandler) -> None:
    """The header timeout: close the connection if no request's headers were parsed on it yet."""
    if handler.transport is not None and handler._request_count == 0:
        handler.force_close()


class LimitedSite(web.BaseSite):
    """An aiohttp site (a listening socket, given or bound to ``host:port``) served by a limiter."""

    def __init__(self, runner: web.BaseRunner, limiter: ConnectionLimiter, *, host: Optional[str] = None,
                 port: int = 0, sock: Optional[socket.socket] = None, backlog: int = 128) -> None:
        super().__init__(runner, backlog=backlog)
        self._limiter = limiter
        self._host = host
        self._port = port
        self._sock = sock

    @property
    def name(self) -> str:
        return f"http://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        if self._sock is not None:
            self._server = await loop.create_server(self._limiter, sock=self._sock, backlog=self._backlog)
        else:
            self._server = await loop.create_server(self._limiter, self._host, self._port,
                                                    backlog=self._backlog)
