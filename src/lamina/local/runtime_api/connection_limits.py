"""Bounds on the connections of every server ``lamina serve`` runs: a header timeout and a count.

A server that keeps a connection whose request headers never complete lets a few hundred half-open
connections exhaust the process's descriptors, and with them every function. Every server therefore
applies :class:`ConnectionLimits`:

- **header timeout**: a connection on which a request's headers have not arrived within it is
  closed; a request whose headers arrived (the Runtime API's long-poll ``next``) is not affected;
- **connection count**: beyond ``max_connections`` open connections, a new one is answered ``503``
  (:data:`BUSY_RESPONSE`) and closed, with one log line per burst of refusals.

The Runtime API's own server applies them itself (:mod:`~lamina.local.runtime_api.http1`); the
aiohttp servers (Invoke API, HTTP front) through :mod:`lamina.local.api.limited_site`.
``LAMINA_HEADER_TIMEOUT`` (seconds) and ``LAMINA_MAX_CONNECTIONS`` override the defaults.
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Optional, cast

__all__ = ["BUSY_RESPONSE", "KEEPALIVE_IDLE", "KEEPALIVE_TIMEOUT", "ConnectionLimits", "RefusedConnection",
           "raise_open_file_limit"]

HEADER_TIMEOUT_ENV = "LAMINA_HEADER_TIMEOUT"
MAX_CONNECTIONS_ENV = "LAMINA_MAX_CONNECTIONS"
DEFAULT_HEADER_TIMEOUT = 10.0
# Above Lambda's default account concurrency (1,000): each synchronous invocation holds a connection.
DEFAULT_MAX_CONNECTIONS = 4096
_OPEN_FILES_WANTED = 65536
# What an idle keep-alive connection of the Invoke API or the HTTP front is kept (aiohttp's run_app's).
KEEPALIVE_TIMEOUT = 75.0
# What an idle connection of the Runtime API is kept: an hour, as a runtime or extension may sit
# between requests that long (a handler stopped in a debugger holds its connection, unused).
KEEPALIVE_IDLE = 3630.0

BUSY_RESPONSE = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nContent-Length: 25\r\n"
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


class RefusedConnection(asyncio.Protocol):
    """A connection over the limit: told so (:data:`BUSY_RESPONSE`), and closed."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        stream = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        stream.write(BUSY_RESPONSE)
        stream.close()
