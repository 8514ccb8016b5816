"""The HTTP trailers of chunked requests, which aiohttp's parser reads and then throws away.

A streamed response reports a mid-stream failure only in its trailers
(``Lambda-Runtime-Function-Error-Type`` / ``-Body``). aiohttp's C parser drops trailers and its pure
Python parser, which keeps them only internally, is several times slower on every Runtime API call.
So the Runtime API's connections also feed their raw bytes to :class:`TrailerScanner`, a sans-I/O
tracker of HTTP/1.1 request framing that only finds where messages end (``bytes.find`` and length
arithmetic, no copies of bodies) and keeps the trailers of the last chunked message.

Runtimes do not pipeline requests (each waits for its answer), so when a request's body has ended,
:attr:`TrailerScanner.last_trailers` belongs to that request.
"""

from __future__ import annotations

import asyncio
import enum
from typing import Optional

from aiohttp import web, web_protocol, web_server

_CRLF = b"\r\n"
_END_OF_HEAD = b"\r\n\r\n"
_MAX_HEAD = 64 * 1024


class _State(enum.Enum):
    HEAD = 1
    BODY = 2
    CHUNK_SIZE = 3
    CHUNK_DATA = 4
    TRAILERS = 5
    LOST = 6  # unparseable input: aiohttp rejects the request anyway; stop tracking


def _parse_fields(block: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.split(_CRLF):
        name, sep, value = line.partition(b":")
        if sep:
            fields[name.strip().decode("latin-1").lower()] = value.strip().decode("latin-1")
    return fields


def _field(lower_block: bytes, marker: bytes) -> Optional[bytes]:
    start = lower_block.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = lower_block.find(_CRLF, start)
    return lower_block[start:end if end >= 0 else len(lower_block)].strip()


class TrailerScanner:
    """Follows request boundaries on one connection; remembers the last chunked message's trailers."""

    def __init__(self) -> None:
        self._state = _State.HEAD
        self._buffer = b""
        self._remaining = 0
        # Trailers (lower-case names) of the last chunked request that ended; None while one is open.
        self.last_trailers: Optional[dict[str, str]] = None

    def feed(self, data: bytes) -> None:
        position = 0
        while position < len(data) and self._state is not _State.LOST:
            position = self._step(data, position)

    def _step(self, data: bytes, position: int) -> int:
        """Consume from ``data[position:]``; return where the next step starts."""
        state = self._state
        if state is _State.BODY or state is _State.CHUNK_DATA:
            taken = min(self._remaining, len(data) - position)
            self._remaining -= taken
            if self._remaining == 0:
                self._state = _State.HEAD if state is _State.BODY else _State.CHUNK_SIZE
            return position + taken
        # Line-oriented states: find the terminator, joining with what an earlier feed left over.
        if self._buffer:  # positions in ``text`` are ``offset`` ahead of those in ``data``
            text, offset, start = self._buffer + data[position:], len(self._buffer) - position, 0
        else:
            text, offset, start = data, 0, position
        terminator = _CRLF if state is _State.CHUNK_SIZE else _END_OF_HEAD
        if state is _State.TRAILERS and text.startswith(_CRLF, start):  # no trailers: the empty line
            terminator = _CRLF
        end = text.find(terminator, start)
        if end < 0:
            self._buffer = text[start:]
            if len(self._buffer) > _MAX_HEAD:
                self._state = _State.LOST
            return len(data)
        block = text[start:end]
        self._buffer = b""
        if state is _State.HEAD:
            self._on_head(block)
        elif state is _State.CHUNK_SIZE:
            self._on_chunk_size(block)
        else:
            self._end_chunked(block)
        return end + len(terminator) - offset

    def _on_head(self, block: bytes) -> None:
        if not block:  # stray CRLF between messages
            return
        # Only two fields matter for framing; finding them in the lower-cased block is cheaper than
        # parsing every header, and this runs on every Runtime API request.
        lower = block.lower()
        encoding = _field(lower, b"\r\ntransfer-encoding:")
        if encoding is not None and b"chunked" in encoding:
            self.last_trailers = None
            self._state = _State.CHUNK_SIZE
            return
        length = _field(lower, b"\r\ncontent-length:") or b"0"
        if not length.isdigit():
            self._state = _State.LOST
            return
        self._remaining = int(length)
        self._state = _State.BODY if self._remaining else _State.HEAD

    def _on_chunk_size(self, line: bytes) -> None:
        size_text = line.split(b";", 1)[0].strip()
        try:
            size = int(size_text, 16)
        except ValueError:
            self._state = _State.LOST
            return
        if size == 0:
            self._state = _State.TRAILERS
        else:
            self._remaining = size + len(_CRLF)  # the chunk's data and its closing CRLF
            self._state = _State.CHUNK_DATA

    def _end_chunked(self, block: bytes) -> None:
        self.last_trailers = _parse_fields(block)
        self._state = _State.HEAD


class RuntimeApiConnection(web_protocol.RequestHandler):
    """aiohttp's connection handler with a :class:`TrailerScanner` looking at the same bytes first.

    It also keeps the port the connection arrived on (:attr:`local_port`), read once per connection:
    the Runtime API routes every request by it, and asking the transport per request costs a
    ``getsockname`` system call under uvloop; the peer's port (:attr:`peer_port`); and whether the
    peer was found to be one of the environment's own processes (:attr:`peer_allowed`, decided on
    the connection's first request, see :mod:`~lamina.local.runtime_api.peers`).
    """

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.trailer_scanner = TrailerScanner()
        self.local_port: Optional[int] = None
        self.peer_port: Optional[int] = None
        self.peer_allowed: Optional[bool] = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        sockname = transport.get_extra_info("sockname")
        self.local_port = int(sockname[1]) if sockname else None
        peername = transport.get_extra_info("peername")
        self.peer_port = int(peername[1]) if peername else None

    def data_received(self, data: bytes) -> None:
        self.trailer_scanner.feed(data)
        super().data_received(data)


class TrailerAwareServer(web_server.Server):
    """A low-level aiohttp server whose requests' trailers :func:`trailers_of` can read."""

    def __call__(self) -> web_protocol.RequestHandler:
        return RuntimeApiConnection(self, loop=self._loop, **self._kwargs)


def connection_of(request: web.BaseRequest) -> Optional[RuntimeApiConnection]:
    """The connection ``request`` arrived on (None outside a TrailerAwareServer)."""
    connection = request.protocol
    return connection if isinstance(connection, RuntimeApiConnection) else None


def local_port_of(request: web.BaseRequest) -> Optional[int]:
    """The local port of the connection ``request`` arrived on (None outside a TrailerAwareServer)."""
    return getattr(request.protocol, "local_port", None)


def trailers_of(request: web.BaseRequest) -> dict[str, str]:
    """The trailers of ``request`` (lower-case names), once its body has been read to the end."""
    scanner = getattr(request.protocol, "trailer_scanner", None)
    if scanner is None or scanner.last_trailers is None:
        return {}
    return dict(scanner.last_trailers)
