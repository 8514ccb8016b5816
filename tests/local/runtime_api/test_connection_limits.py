"""Every server of ``lamina serve`` closes connections whose headers never complete, and bounds how
many connections it keeps open (one log line per burst of refusals)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import socket
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from lamina.local.api.limited_site import ConnectionLimiter, LimitedSite
from lamina.local.runtime_api.connection_limits import ConnectionLimits
from tests.conftest import free_port
from tests.local.local_helpers import LaminaServer, serve_handler

HALF_OPEN = b"POST /2015-03-31/functions/fn/invocations HTTP/1.1\r\nHost: x\r\n"


@contextlib.asynccontextmanager
async def _limited_server(limits: ConnectionLimits) -> AsyncIterator[int]:
    async def handle(request: web.BaseRequest) -> web.Response:
        if request.path == "/poll":  # a long-poll like the Runtime API's next
            await asyncio.sleep(float(request.query["seconds"]))
        return web.Response(text="ok")

    runner = web.ServerRunner(web.Server(handle), access_log=None)
    await runner.setup()
    assert runner.server is not None
    port = free_port()
    await LimitedSite(runner, ConnectionLimiter(runner.server, limits, "test API"), host="127.0.0.1",
                      port=port).start()
    try:
        yield port
    finally:
        await runner.cleanup()


async def _half_open(port: int) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(HALF_OPEN)
    await writer.drain()
    return reader, writer


def test_half_open_connections_are_closed_and_those_over_the_bound_refused_once_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "lamina.connections")
    asyncio.run(asyncio.wait_for(_half_open_and_refused(caplog), 30))


async def _half_open_and_refused(caplog: pytest.LogCaptureFixture) -> None:
    async with _limited_server(ConnectionLimits(header_timeout=0.5, max_connections=4)) as port:
        connections = []
        for _ in range(7):
            connections.append(await _half_open(port))
            await asyncio.sleep(0.01)  # one at a time, so which are over the bound is known
        answers = [await asyncio.wait_for(reader.read(), 10) for reader, _ in connections]
        for _, writer in connections:
            writer.close()
        assert answers[:4] == [b""] * 4  # closed by the header timeout, nothing answered
        assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers[4:])
        refusals = [r for r in caplog.records if "refusing new connections" in r.getMessage()]
        assert len(refusals) == 1 and "test API" in refusals[0].getMessage()
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # room again
        writer.write(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert (await asyncio.wait_for(reader.read(), 10)).startswith(b"HTTP/1.1 200 ")
        writer.close()


def test_a_request_whose_headers_arrived_outlives_the_header_timeout() -> None:
    asyncio.run(asyncio.wait_for(_long_poll(), 30))


async def _long_poll() -> None:
    async with _limited_server(ConnectionLimits(header_timeout=0.2, max_connections=4)) as port:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /poll?seconds=1.0 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        answer = await asyncio.wait_for(reader.read(), 10)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 200 ") and answer.endswith(b"ok")


def test_defaults_come_from_the_environment_and_the_descriptor_limit() -> None:
    limits = ConnectionLimits.from_environment({"LAMINA_HEADER_TIMEOUT": "2.5",
                                                "LAMINA_MAX_CONNECTIONS": "9"})
    assert limits == ConnectionLimits(2.5, 9)
    default = ConnectionLimits.from_environment({})
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)  # raised to the hard limit (at most 65,536)
    assert default.header_timeout == 10.0
    assert default.max_connections == max(16, min(4096, soft // 4))


def test_1100_half_open_connections_do_not_exhaust_serve_descriptors(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LAMINA_HEADER_TIMEOUT", "10")  # longer than opening the 1,100 takes, under load too
    monkeypatch.setenv("LAMINA_MAX_CONNECTIONS", "512")  # the bound serve takes under a 1,024 limit
    with serve_handler("handlers.echo", tmp_path) as server:
        # A laptop's descriptor limit: before the bound, 1,100 half-open connections exhausted it.
        _, hard = resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE)
        resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE, (1024, hard))
        assert server.invoke(b'{"warm": 1}').status == 200
        sockets = []
        try:
            for _ in range(1100):
                sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
                sock.sendall(HALF_OPEN)
                sockets.append(sock)
            answered = _invoke_until_answered(server)
            closed = [_read_to_end(sock) for sock in sockets]
        finally:
            for sock in sockets:
                sock.close()
        log = server.logs()
    assert answered == 200
    assert all(answer is not None for answer in closed)  # every one closed by serve
    timed_out = sum(1 for answer in closed if answer == b"")
    refused = sum(1 for answer in closed if answer and answer.startswith(b"HTTP/1.1 503 "))
    assert timed_out + refused == 1100 and 0 < timed_out <= 512
    assert log.count("refusing new connections") == 1  # one burst, one line (not one per connection)
    assert "Too many open files" not in log


def _invoke_until_answered(server: LaminaServer) -> int:
    """Invoke as boto3 would, retrying a refusal (503, or the connection closed while the request was
    sent), until the half-open connections have timed out."""
    deadline = time.monotonic() + 30
    while True:
        try:
            status = server.invoke(b'{"during": 1}', timeout=10).status
        except OSError:  # closed by the refusal before the body was sent
            status = 503
        if status != 503 or time.monotonic() > deadline:
            return int(status)
        time.sleep(0.2)


def _read_to_end(sock: socket.socket) -> bytes | None:
    """What the server sent before closing ``sock``; None if it did not close it in time."""
    sock.settimeout(20)
    data = b""
    try:
        while chunk := sock.recv(4096):
            data += chunk
    except ConnectionResetError:
        return data
    except OSError:
        return None
    return data
