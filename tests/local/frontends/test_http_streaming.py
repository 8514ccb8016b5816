"""Streamed responses through the HTTP front, answered as a function URL in RESPONSE_STREAM mode does.

The functions are the runtime's own streaming handlers (tests/runtime/functions/streams.py), run in real
execution environments by an in-process local Lambda behind the HTTP front on a real socket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

import aiohttp
import pytest
from multidict import CIMultiDictProxy

from lamina.local.frontends.http_results import MalformedResultError, PreludeReader, stream_head
from lamina.local.frontends.http_server import create_http_app, start_http_server
from lamina.local.frontends.routes import RouteTable, parse_route
from lamina.local.frontends.serve import local_invoker
from lamina.local.invoke.service import LocalLambda
from lamina.local.model.function_config import FunctionConfig
from lamina.runtime import protocol
from tests.conftest import free_port

TESTS = Path(__file__).resolve().parents[2]
STREAMS = TESTS / "runtime" / "functions"
LOCAL = TESTS / "local" / "functions"


# --- the prelude, without sockets ------------------------------------------------------------------


def test_prelude_split_over_chunks_is_found_with_the_body_bytes_that_followed_it() -> None:
    reader = PreludeReader()
    assert reader.feed(b'{"statusCode": 2') is None
    assert reader.feed(b"01}\x00\x00\x00") is None
    split = reader.feed(b"\x00\x00\x00\x00\x00body\x00with NULs")
    assert split == (b'{"statusCode": 201}', b"body\x00with NULs")


def test_prelude_without_a_delimiter_in_its_first_16_kib_is_malformed() -> None:
    reader = PreludeReader(limit=16)
    assert reader.feed(b"{" * 16) is None
    with pytest.raises(MalformedResultError):
        reader.feed(b"{")


def test_stream_head_reads_status_headers_and_cookies_from_the_prelude() -> None:
    head = stream_head(protocol.CONTENT_TYPE_HTTP_INTEGRATION,
                       b'{"statusCode": 404, "headers": {"X-A": "1"}, "cookies": ["a=b", "c=d"]}')
    assert head.status == 404
    assert head.headers == [("content-type", "application/octet-stream"), ("x-a", "1"),
                            ("set-cookie", "a=b"), ("set-cookie", "c=d")]
    assert stream_head(protocol.CONTENT_TYPE_HTTP_INTEGRATION, b"{}").status == 200
    with pytest.raises(MalformedResultError):
        stream_head(protocol.CONTENT_TYPE_HTTP_INTEGRATION, b"[1]")


def test_stream_head_without_a_prelude_is_200_with_the_streams_content_type() -> None:
    head = stream_head("text/event-stream")
    assert head.status == 200 and head.header("content-type") == "text/event-stream"


# --- a local Lambda behind the HTTP front ----------------------------------------------------------

FUNCTIONS = {
    "http": (STREAMS, "streams.http"), "chunks": (STREAMS, "streams.chunks"),
    "writer": (STREAMS, "streams.writer"), "until_marker": (LOCAL, "streaming.until_marker"),
    "fail_midway": (STREAMS, "streams.fail_midway"), "fail_first": (STREAMS, "streams.fail_first"),
    "whole": (LOCAL, "streaming.whole"),
}


@asynccontextmanager
async def http_front() -> AsyncIterator[str]:
    """``/NAME`` → function NAME, through the same invoker ``lamina serve --http`` uses."""
    local = LocalLambda()
    for name, (code, handler) in FUNCTIONS.items():
        local.registry.put(FunctionConfig(name=name, code_dir=code, handler=handler, timeout=30))
    table = RouteTable([parse_route(f"ANY /{name}", name, "2.0") for name in FUNCTIONS])
    port = free_port()
    async with local:
        runner = await start_http_server(create_http_app(table, local_invoker(local)), "127.0.0.1", port)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            await runner.cleanup()


T = TypeVar("T")


def get(path: str, use: Callable[[aiohttp.ClientResponse], Awaitable[T]], **options: Any) -> T:
    """GET ``path`` from a fresh front and hand the response, headers read, body unread, to ``use``."""

    async def main() -> T:
        async with http_front() as url, aiohttp.ClientSession() as client, \
                client.get(url + path, **options) as response:
            return await use(response)

    return asyncio.run(asyncio.wait_for(main(), 60))


def fetch(path: str) -> tuple[int, CIMultiDictProxy[str], bytes]:
    """GET ``path``: status, headers and the whole body."""

    async def read(response: aiohttp.ClientResponse) -> tuple[int, CIMultiDictProxy[str], bytes]:
        return response.status, response.headers, await response.read()

    return get(path, read)


def test_http_integration_prelude_becomes_status_headers_and_cookies_not_body() -> None:
    status, headers, body = fetch("/http")
    assert status == 201
    assert headers["Content-Type"] == "text/html"
    assert headers.getall("Set-Cookie") == ["a=b"]
    assert headers.get("Transfer-Encoding") == "chunked"
    assert body == b"<h1>hi</h1>"


def test_stream_written_to_a_stream_object_keeps_its_prelude_headers() -> None:
    status, headers, body = fetch("/writer")
    assert status == 200 and headers["x-test"] == "1"
    assert body == b"line 0\nline 1\nline 2\n"


def test_plain_stream_is_200_with_its_content_type_and_bytes_as_they_are() -> None:
    status, headers, body = fetch("/chunks")
    assert status == 200 and headers["Content-Type"] == "application/octet-stream"
    assert body == b"first,second,third"


def test_client_receives_the_first_chunk_before_the_handler_finishes(tmp_path: Path) -> None:
    marker = tmp_path / "first-chunk-seen"

    async def read_in_two_steps(response: aiohttp.ClientResponse) -> None:
        assert response.status == 200 and response.headers["Content-Type"] == "text/plain"
        # the handler waits for the marker, so this chunk can only come from a relayed stream
        assert await response.content.readexactly(len(b"first;")) == b"first;"
        marker.touch()
        assert await response.content.read() == b"marker-seen"

    get("/until_marker", read_in_two_steps, params={"marker": str(marker)})


def test_error_before_the_first_byte_is_a_502() -> None:
    status, _, body = fetch("/fail_first")
    assert status == 502 and json.loads(body) == {"message": "Internal Server Error"}


def test_error_mid_stream_cuts_the_response_short_after_the_chunks_sent() -> None:
    async def read_to_the_cut(response: aiohttp.ClientResponse) -> None:
        assert response.status == 200
        assert await response.content.readexactly(len(b"partial")) == b"partial"
        with pytest.raises(aiohttp.ClientPayloadError):
            await response.read()  # no last chunk: the body is known to be incomplete

    get("/fail_midway", read_to_the_cut)


def test_non_streaming_function_keeps_its_buffered_answer() -> None:
    status, headers, body = fetch("/whole")
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert "Transfer-Encoding" not in headers
    assert json.loads(body) == {"whole": True}
