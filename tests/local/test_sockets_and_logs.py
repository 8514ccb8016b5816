"""Latency-relevant socket options and the log sink's ordering, in-process."""

from __future__ import annotations

import asyncio
import io
import socket
from types import SimpleNamespace

from aiohttp import web

from lamina.local.api.app import create_app, run_app
from lamina.local.environments.logsink import START_DELAY, ConsoleSink
from lamina.local.invoke.service import LocalLambda
from lamina.local.runtime_api.http1 import HttpServer
from lamina.local.runtime_api.server import RuntimeApiServer
from tests.conftest import free_port


def _nodelay(server: web.Server | HttpServer) -> list[int]:
    sockets = [handler.transport.get_extra_info("socket") for handler in server.connections
               if handler.transport is not None]
    return [sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY) for sock in sockets]


async def _connect_and_check(port: int, server_of: object) -> list[int]:
    _, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        for _ in range(100):
            await asyncio.sleep(0.01)
            flags = _nodelay(server_of.server)  # type: ignore[attr-defined]
            if flags:
                return flags
        return []
    finally:
        writer.close()


def test_invoke_api_and_runtime_api_connections_disable_nagle() -> None:
    async def scenario() -> tuple[list[int], list[int]]:
        port = free_port()
        runner = await run_app(create_app(LocalLambda()), "127.0.0.1", port)
        try:
            invoke_side = await _connect_and_check(port, runner)
        finally:
            await runner.cleanup()
        api = RuntimeApiServer()

        class Idle:
            async def on_next(self):  # type: ignore[no-untyped-def]
                await asyncio.sleep(3600)

        address = await api.attach(Idle())  # type: ignore[arg-type]
        try:
            runtime_side = await _connect_and_check(int(address.rsplit(":", 1)[1]),
                                                     SimpleNamespace(server=api.http))
        finally:
            await api.close()
        return invoke_side, runtime_side

    invoke_side, runtime_side = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert invoke_side and all(invoke_side)
    assert runtime_side and all(runtime_side)


def test_console_sink_writes_after_the_current_loop_step_and_at_once_without_a_loop() -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream, colour=False)
    sink.write("f", "outside a loop")
    assert stream.getvalue() == "f | outside a loop\n"

    async def scenario() -> tuple[str, str]:
        sink.write("f", "END RequestId: r")
        sink.write("f", "REPORT RequestId: r")
        during = stream.getvalue()
        await asyncio.sleep(0)
        return during, stream.getvalue()

    during, after = asyncio.run(scenario())
    assert during == "f | outside a loop\n"
    assert after.endswith("f | END RequestId: r\nf | REPORT RequestId: r\n")


def test_console_sink_renders_terminal_lines_after_the_current_loop_step() -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream, colour=True)

    async def scenario() -> tuple[str, str]:
        sink.write("f", "START RequestId: r Version: $LATEST")
        sink.write("f", "hello from the handler")
        during = stream.getvalue()
        await asyncio.sleep(0)
        return during, stream.getvalue()

    during, after = asyncio.run(scenario())
    assert during == ""
    assert after == "f | START RequestId: r Version: $LATEST\nf | hello from the handler\n"


def test_console_sink_holds_a_start_line_for_the_lines_after_it_but_not_for_long() -> None:
    stream = io.StringIO()
    sink = ConsoleSink(stream, colour=False)

    async def scenario() -> tuple[str, str, str]:
        sink.write("f", "START RequestId: a Version: $LATEST")
        await asyncio.sleep(0)
        held = stream.getvalue()  # the runtime is at work: nothing written yet
        sink.write("f", "END RequestId: a")
        await asyncio.sleep(0)
        together = stream.getvalue()  # START goes out with the line after it, in order
        sink.write("f", "START RequestId: b Version: $LATEST")
        for _ in range(500):  # a long invocation: its START goes out on its own after START_DELAY
            await asyncio.sleep(START_DELAY)
            if "RequestId: b" in stream.getvalue():
                break
        return held, together, stream.getvalue()

    held, together, alone = asyncio.run(asyncio.wait_for(scenario(), 20))
    assert held == ""
    assert together == "f | START RequestId: a Version: $LATEST\nf | END RequestId: a\n"
    assert alone == together + "f | START RequestId: b Version: $LATEST\n"
