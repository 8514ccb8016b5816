"""The Runtime API's HTTP/1.1 server: what runtimes send arrives whole and in order, and what attackers
send is bounded (head size, header timeout, connection count)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

import pytest

from lamina.local.runtime_api.connection_limits import ConnectionLimits
from lamina.local.runtime_api.http1 import Headers, HttpServer, Request, Response

CHUNKED = (b"POST /stream HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
           b"Trailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
           b"5\r\nhello\r\n6\r\n world\r\n0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n\r\n")


async def _echo(request: Request) -> Response:
    if request.path == "/poll":
        await asyncio.sleep(float(request.query_string.split("=")[1]))
    body = await request.read()
    trailer = request.trailers.get("lambda-runtime-function-error-type") or "-"
    return Response(200, b"%s %s %s %s" % (request.method.encode(), request.path.encode(), body,
                                         trailer.encode()), "text/plain")


@contextlib.asynccontextmanager
async def _server(limits: ConnectionLimits | None = None, max_head: int = 64 * 1024,
                  ) -> AsyncIterator[tuple[int, HttpServer]]:
    http = HttpServer(_echo, limits or ConnectionLimits(10, 64), "test API", max_head=max_head)
    listener = await asyncio.get_running_loop().create_server(http, "127.0.0.1", 0)
    try:
        yield listener.sockets[0].getsockname()[1], http
    finally:
        listener.close()
        http.close_all()


async def _exchange(port: int, data: bytes, pieces: int = 1) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        writer.write(data[start:start + step])
        await writer.drain()
    try:
        return await asyncio.wait_for(reader.read(), 10)
    finally:
        writer.close()


def _run(coroutine: object) -> object:
    return asyncio.run(asyncio.wait_for(coroutine, 30))  # type: ignore[arg-type]


@pytest.mark.parametrize("pieces", [1, 7, len(CHUNKED)])
def test_a_chunked_body_and_its_trailers_arrive_whatever_the_split(pieces: int) -> None:
    async def scenario() -> bytes:
        async with _server() as (port, _):
            return await _exchange(port, CHUNKED.replace(b"Host: x", b"Host: x\r\nConnection: close"), pieces)

    answer = _run(scenario())
    assert isinstance(answer, bytes) and answer.endswith(b"POST /stream hello world Boom")


def test_pipelined_requests_are_answered_in_order_each_with_its_own_body() -> None:
    requests = (b"POST /poll?s=0.2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\none"
                + CHUNKED
                + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")

    async def scenario() -> bytes:
        async with _server() as (port, _):
            return await _exchange(port, requests)

    answer = _run(scenario())
    assert isinstance(answer, bytes)
    bodies = [part.split(b"\r\n\r\n", 1)[1][:40] for part in answer.split(b"HTTP/1.1 200 OK")[1:]]
    assert [b.split(b"HTTP")[0] for b in bodies] == [b"POST /poll one -", b"POST /stream hello world Boom",
                                                      b"GET /last  -"]


def test_a_head_over_the_bound_is_refused_with_431_and_one_under_it_served() -> None:
    async def scenario() -> tuple[bytes, bytes]:
        async with _server(max_head=256 * 1024) as (port, _):
            big = (b"GET /h HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Cause: " + b"a" * (200 * 1024)
                   + b"\r\n\r\n")
            huge = big.replace(b"a" * (200 * 1024), b"a" * (2 << 20))
            return await _exchange(port, big, 50), await _exchange(port, huge, 50)

    served, refused = _run(scenario())  # type: ignore[misc]
    assert served.startswith(b"HTTP/1.1 200 ")
    assert refused.startswith(b"HTTP/1.1 431 ")


def test_expect_continue_is_answered_before_the_body() -> None:
    async def scenario() -> bytes:
        async with _server() as (port, _):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"POST /e HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 2\r\n"
                         b"Connection: close\r\n\r\n")
            interim = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 10)
            writer.write(b"ok")
            rest = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            return interim + rest

    answer = _run(scenario())
    assert isinstance(answer, bytes)
    assert answer.startswith(b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK")
    assert answer.endswith(b"POST /e ok -")


def test_half_open_connections_close_and_those_over_the_bound_are_refused_once_logged(
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, "lamina.connections")

    async def scenario() -> tuple[list[bytes], bytes, bytes]:
        async with _server(ConnectionLimits(header_timeout=0.3, max_connections=3)) as (port, http):
            connections = []
            for _ in range(5):
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(b"GET /x HTTP/1.1\r\nHost: x\r\n")  # headers never end
                connections.append((reader, writer))
                await asyncio.sleep(0.02)
            answers = [await asyncio.wait_for(reader.read(), 10) for reader, _ in connections]
            for _, writer in connections:
                writer.close()
            # A long-poll whose headers arrived outlives the header timeout.
            poll = await _exchange(port, b"GET /poll?s=0.8 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            # Keep-alive: a second request that never completes its head is bounded too.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(b"GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost:")
            second = await asyncio.wait_for(reader.read(), 10)
            writer.close()
            assert not http.connections or all(c.closed for c in http.connections)
            return answers, poll, second

    answers, poll, second = _run(scenario())  # type: ignore[misc]
    assert answers[:3] == [b""] * 3  # closed by the header timeout, nothing answered
    assert all(answer.startswith(b"HTTP/1.1 503 ") for answer in answers[3:])
    refusals = [r for r in caplog.records if "refusing new connections" in r.getMessage()]
    assert len(refusals) == 1 and "test API" in refusals[0].getMessage()
    assert poll.startswith(b"HTTP/1.1 200 ") and poll.endswith(b"GET /poll  -")
    assert second.count(b"HTTP/1.1 200 ") == 1  # the first answered; the half-sent second closed


def test_a_body_larger_than_the_buffer_is_read_with_back_pressure() -> None:
    size = 8 << 20

    async def slow_reader(request: Request) -> Response:
        total = 0
        async for chunk in request.chunks():
            total += len(chunk)
            await asyncio.sleep(0)
            assert request.connection._unread <= (1 << 20) + 512 * 1024  # never far past the high water
        return Response(200, str(total).encode(), "text/plain")

    async def scenario() -> bytes:
        http = HttpServer(slow_reader, ConnectionLimits(10, 8), "test API")
        listener = await asyncio.get_running_loop().create_server(http, "127.0.0.1", 0)
        port = listener.sockets[0].getsockname()[1]
        try:
            head = b"POST /big HTTP/1.1\r\nHost: x\r\nConnection: close\r\nContent-Length: %d\r\n\r\n" % size
            return await _exchange(port, head + b"z" * size, 64)
        finally:
            listener.close()
            http.close_all()

    answer = _run(scenario())
    assert isinstance(answer, bytes) and answer.endswith(str(size).encode())


def test_a_flood_of_pipelined_requests_is_read_only_as_fast_as_it_is_answered() -> None:
    flood = b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n" * 40000  # 1.2 MB, far more than one read
    most_queued = []

    async def scenario() -> bytes:
        async with _server() as (port, http):
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(flood + b"GET /last HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            answer = bytearray()
            while chunk := await asyncio.wait_for(reader.read(65536), 20):
                answer += chunk
                most_queued.append(max((len(c._queue) for c in http.connections), default=0))
            writer.close()
            return bytes(answer)

    answer = _run(scenario())
    assert isinstance(answer, bytes)
    assert answer.count(b"HTTP/1.1 200 OK") == 40001 and answer.endswith(b"GET /last  -")
    # Reading stops while requests wait: at most one read's worth of them is ever queued.
    assert max(most_queued) < 20000


def test_a_header_value_with_line_breaks_stays_one_header() -> None:
    # JSON whitespace, and worse
    context = '{\r\n"custom": 1}\r\nLambda-Runtime-Aws-Request-Id: forged\r\n\r\n'
    head = Response(200, b"{}", headers={"Lambda-Runtime-Client-Context": context}).encode(keep_alive=True)
    lines = head.split(b"\r\n")
    assert b"Lambda-Runtime-Aws-Request-Id: forged" not in lines
    assert head.count(b"\r\n\r\n") == 1 and head.endswith(b"\r\n\r\n{}")
    assert b'Lambda-Runtime-Client-Context: {  "custom": 1}  Lambda-Runtime-Aws-Request-Id: forged' in head


def test_a_heads_fields_compare_without_case_repeats_are_joined_and_raw_ones_keep_their_case() -> None:
    headers = Headers.parsed([b"Host", b"X-Amz-Thing", b"x-amz-thing", b"Content-Type"],
                             [b"a", b"one", b"two", b"caf\xe9"])
    assert headers["x-amz-thing"] == "one, two" and headers.get("X-AMZ-THING") == "one, two"
    assert headers["content-type"] == "caf\u00e9" and "HOST" in headers and len(headers) == 3
    assert "missing" not in headers and headers.get("missing") is None

    async def main() -> list[tuple[str, str]]:
        seen: list[list[tuple[str, str]]] = []

        async def handler(request: Request) -> Response:
            seen.append(request.raw_headers)
            return Response(200, request.headers["x-repeated"].encode(), "text/plain")

        http = HttpServer(handler, ConnectionLimits(10, 64), "test API")
        listener = await asyncio.get_running_loop().create_server(http, "127.0.0.1", 0)
        try:
            port = listener.sockets[0].getsockname()[1]
            answer = await _exchange(port, b"GET / HTTP/1.1\r\nHost: x\r\nX-Repeated: 1\r\nx-repeated: 2\r\n"
                                           b"Connection: close\r\n\r\n")
        finally:
            listener.close()
            http.close_all()
        assert answer.endswith(b"\r\n\r\n1, 2")
        return seen[0]

    assert _run(main()) == [("Host", "x"), ("X-Repeated", "1"), ("x-repeated", "2"), ("Connection", "close")]


def test_a_held_request_is_answered_later_in_order_and_one_whose_client_left_is_reported_gone() -> None:
    class Parking:  # an ImmediateAnswers that parks /park until the test answers it
        def __init__(self) -> None:
            self.parked: list[Request] = []
            self.left: list[Request] = []

        def wants(self, request: Request) -> bool:
            return request.path == "/park"

        def answer(self, request: Request) -> bool:
            self.parked.append(request)
            return True

        def gone(self, request: Request) -> None:
            self.left.append(request)

    async def until(predicate: object) -> None:
        for _ in range(500):
            if predicate():  # type: ignore[operator]
                return
            await asyncio.sleep(0.01)
        raise AssertionError("never happened")

    async def main() -> None:
        parking = Parking()
        http = HttpServer(_echo, ConnectionLimits(10, 64), "test API", immediate=parking)
        listener = await asyncio.get_running_loop().create_server(http, "127.0.0.1", 0)
        reader, writer = await asyncio.open_connection("127.0.0.1", listener.sockets[0].getsockname()[1])
        try:
            writer.write(b"GET /park HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
            await until(lambda: parking.parked)
            with pytest.raises(asyncio.TimeoutError):  # /after waits its turn behind the parked one
                await asyncio.wait_for(reader.read(1), 0.3)
            first = parking.parked[0]
            assert first.connection.answer_held(first, Response(200, b"parked", "text/plain"))
            assert not first.connection.answer_held(first, Response(200, b"twice", "text/plain"))
            answers = b""
            while answers.count(b"HTTP/1.1 200") < 2:
                answers += await asyncio.wait_for(reader.read(4096), 10)
            assert answers.index(b"parked") < answers.index(b"GET /after  -")
            writer.write(b"GET /park HTTP/1.1\r\nHost: x\r\n\r\n")
            await until(lambda: len(parking.parked) == 2)
            writer.close()
            await until(lambda: parking.left)
            second = parking.parked[1]
            assert parking.left == [second]
            assert not second.connection.answer_held(second, Response(200, b"late", "text/plain"))
        finally:
            writer.close()
            listener.close()
            http.close_all()

    _run(main())
