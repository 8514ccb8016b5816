"""Bounds on the connections of every server ``lamina serve`` runs: a header timeout and a count.

aiohttp gives a connection whose request headers never complete as long as its keep-alive timeout
(an hour by default), so a few hundred half-open connections exhaust the process's descriptors and
with them every function. Each server's protocol factory is therefore wrapped
(:class:`ConnectionLimiter`, served by :class:`LimitedSite`):

- **header timeout**: on accept, a timer is armed; when it fires, a connection on which no request's
  headers have been parsed yet is closed. Nothing runs per read or per request, and a request whose
  headers arrived (the Runtime API's long-poll ``next``) is not affected. Later requests on a
  keep-alive connection are bounded by aiohttp's keep-alive timeout, which also covers a connection
  waiting for the next request's headers.
- **connection count**: beyond ``max_connections`` open connections, a new one is answered ``503``
  and closed, with one log line per burst of refusals.

``LAMINA_HEADER_TIMEOUT`` (seconds) and ``LAMINA_MAX_CONNECTIONS`` override the defaults.
"""

from __future__ import annotations

import asyncio
import logging
import os
import resource
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional, cast

from aiohttp import web, web_protocol, web_server

__all__ = ["ConnectionLimiter", "ConnectionLimits", "LimitedSite"]

HEADER_TIMEOUT_ENV = "LAMINA_HEADER_TIMEOUT"
MAX_CONNECTIONS_ENV = "LAMINA_MAX_CONNECTIONS"
DEFAULT_HEADER_TIMEOUT = 10.0
# Above Lambda's default account concurrency (1,000): each synchronous invocation holds a connection.
DEFAULT_MAX_CONNECTIONS = 4096
_OPEN_FILES_WANTED = 65536
# What an idle keep-alive connection of the Invoke API or the HTTP front is kept (aiohttp's run_app's).
KEEPALIVE_TIMEOUT = 75.0

log = logging.getLogger("lamina.connections")

_BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
         b"Connection: close\r\n\r\ntoo many open connections")


def raise_open_file_limit() -> int:
    """Raise this process's soft descriptor limit to its hard limit (at most 65,536), as servers do:
    a laptop's default soft limit of 1,024 would cap concurrency far below Lambda's. The new limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = _OPEN_FILES_WANTED if hard == resource.RLIM_INFINITY else min(hard, _OPEN_FILES_WANTED)
    if soft != resource.RLIM_INFINITY and soft < wanted:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (wanted, hard))
            soft = wanted
        except (OSError, ValueError):
            pass
    return soft


def _default_max_connections() -> int:
    """4,096, or a quarter of the descriptors this process may open if that is less (room for three
    servers' connections and the environments' pipes)."""
    soft = raise_open_file_limit()
    if soft == resource.RLIM_INFINITY:
        return DEFAULT_MAX_CONNECTIONS
    return max(16, min(DEFAULT_MAX_CONNECTIONS, soft // 4))


@dataclass(frozen=True)
class ConnectionLimits:
    header_timeout: float = DEFAULT_HEADER_TIMEOUT
    max_connections: int = DEFAULT_MAX_CONNECTIONS

    @classmethod
    def from_environment(cls, environ: Optional[Mapping[str, str]] = None) -> ConnectionLimits:
        environ = os.environ if environ is None else environ
        timeout = environ.get(HEADER_TIMEOUT_ENV)
        count = environ.get(MAX_CONNECTIONS_ENV)
        return cls(header_timeout=float(timeout) if timeout else DEFAULT_HEADER_TIMEOUT,
                   max_connections=int(count) if count else _default_max_connections())


class _Refused(asyncio.Protocol):
    """A connection over the limit: told so, and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        stream.write(_BUSY)
        stream.close()


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
            return _Refused()
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
