"""The HTTP front over real sockets: aiohttp and curl clients, a Mangum ASGI app behind a fake invoker."""

from __future__ import annotations

import asyncio
import base64
import json
import shutil
import subprocess
from collections.abc import AsyncIterator, Awaitable
from contextlib import asynccontextmanager
from typing import Any, Callable, Optional

import aiohttp
import pytest

from lamina.local.frontends.http_server import create_http_app, start_http_server
from lamina.local.frontends.routes import RouteTable, parse_route, routes_from_functions
from lamina.local.invoke.invoker import InvokeResult
from lamina.local.model.service_errors import ServiceError
from tests.conftest import free_port

from .asgi_app import handler as asgi_handler

Invoke = Callable[[str, bytes], Awaitable[InvokeResult]]


class FakeContext:
    function_name = "web"
    aws_request_id = "req-1"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


def call_handler(event: dict[str, Any]) -> Any:
    """Mangum runs its own event loop, as it does in a Lambda execution environment."""
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)
    try:
        return asgi_handler(event, FakeContext())
    finally:
        asyncio.set_event_loop(None)
        loop.close()


async def mangum_invoke(function_name: str, payload: bytes) -> InvokeResult:
    """Runs the Mangum handler as a Lambda would: the event in, the JSON result out."""
    result = await asyncio.to_thread(call_handler, json.loads(payload))
    return None, json.dumps(result).encode()


@asynccontextmanager
async def serving(table: RouteTable, invoke: Invoke, **options: Any) -> AsyncIterator[str]:
    port = free_port()
    runner = await start_http_server(create_http_app(table, invoke, **options), "127.0.0.1", port)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


async def fetch(method: str, url: str, **options: Any) -> tuple[int, Any, bytes]:
    """One request over a real connection: status, headers, body."""
    async with aiohttp.ClientSession() as client, client.request(method, url, **options) as response:
        return response.status, response.headers, await response.read()


def run(coro: Awaitable[None]) -> None:
    asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


def test_asgi_app_behind_mangum_answers_as_behind_api_gateway() -> None:
    async def scenario() -> None:
        table = routes_from_functions({"web": {}})
        async with serving(table, mangum_invoke) as url:
            status, headers, body = await fetch(
                "POST", f"{url}/items/7?x=1&x=2", data=b"payload",
                headers=[("Cookie", "s=1; t=2"), ("X-Multi", "a"), ("X-Multi", "b"),
                         ("Content-Type", "text/plain")])
        assert status == 200
        assert headers.getall("set-cookie") == ["a=1; Path=/", "b=2"]
        assert headers["x-app"] == "asgi"
        answer = json.loads(body)
        assert answer["method"] == "POST" and answer["path"] == "/items/7"
        assert answer["query"] == "x=1&x=2"
        assert answer["cookie"] == "s=1; t=2"
        assert answer["x_multi"] == "a,b"
        assert base64.b64decode(answer["body_b64"]) == b"payload"

    run(scenario())


def test_asgi_app_status_and_binary_responses_pass_through() -> None:
    async def scenario() -> None:
        table = routes_from_functions({"web": {}})
        async with serving(table, mangum_invoke) as url, aiohttp.ClientSession() as client:
            async with client.get(f"{url}/missing") as response:
                assert response.status == 404
            async with client.get(f"{url}/binary") as response:
                assert response.status == 200
                assert await response.read() == bytes(range(256))
            async with client.put(f"{url}/upload", data=bytes(range(256)),
                                  headers={"Content-Type": "application/octet-stream"}) as response:
                answer = await response.json()
        assert base64.b64decode(answer["body_b64"]) == bytes(range(256))

    run(scenario())


def test_asgi_app_behind_rest_api_format_answers_too() -> None:
    async def scenario() -> None:
        table = RouteTable([parse_route("ANY /{proxy+}", "web", "1.0")])
        async with serving(table, mangum_invoke) as url:
            status, _, body = await fetch("GET", f"{url}/a/b?q=1")
        assert status == 200
        answer = json.loads(body)
        assert answer["path"] == "/a/b" and answer["query"] == "q=1"

    run(scenario())


def recording_invoke(result: bytes, error: Optional[str] = None,
                     seen: Optional[list[tuple[str, dict[str, Any]]]] = None) -> Invoke:
    async def invoke(function_name: str, payload: bytes) -> InvokeResult:
        if seen is not None:
            seen.append((function_name, json.loads(payload)))
        return error, result
    return invoke


def test_routes_choose_the_function_and_fill_path_parameters() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def scenario() -> None:
        table = routes_from_functions({"items": {"routes": ["GET /items/{id}"]},
                                       "rest": {"routes": ["ANY /{proxy+}"]}})
        invoke = recording_invoke(b'{"ok": true}', seen=seen)
        async with serving(table, invoke) as url, aiohttp.ClientSession() as client:
            for path in ("/items/9", "/other/x"):
                async with client.get(url + path) as response:
                    assert response.status == 200 and await response.json() == {"ok": True}
                    assert response.headers["apigw-requestid"]

    run(scenario())
    assert seen[0][0] == "items" and seen[0][1]["pathParameters"] == {"id": "9"}
    headers = seen[0][1]["headers"]
    assert headers["x-forwarded-for"] == "127.0.0.1" and headers["x-forwarded-proto"] == "http"
    assert headers["x-forwarded-port"].isdigit() and headers["x-amzn-trace-id"].startswith("Root=1-")
    assert seen[1][0] == "rest" and seen[1][1]["pathParameters"] == {"proxy": "other/x"}
    assert seen[0][1]["requestContext"]["requestId"] != seen[1][1]["requestContext"]["requestId"]


def test_unrouted_path_is_404_not_found() -> None:
    async def scenario() -> None:
        table = routes_from_functions({"items": {"routes": ["GET /items"]}})
        async with serving(table, recording_invoke(b"{}")) as url:
            status, _, body = await fetch("GET", f"{url}/nope")
        assert status == 404 and json.loads(body) == {"message": "Not Found"}

    run(scenario())


def test_function_error_and_malformed_result_are_502() -> None:
    async def scenario() -> None:
        table = routes_from_functions({"fn": {}})
        error = recording_invoke(b'{"errorMessage":"x","errorType":"E"}', "Unhandled")
        malformed = recording_invoke(b'{"statusCode": "nope"}')
        for invoke in (error, malformed):
            async with serving(table, invoke) as url:
                status, _, body = await fetch("GET", url)
            assert status == 502 and json.loads(body) == {"message": "Internal Server Error"}

    run(scenario())


def test_request_over_ten_megabytes_is_413() -> None:
    async def scenario() -> None:
        table = routes_from_functions({"fn": {}})
        async with serving(table, recording_invoke(b"{}")) as url:
            status, _, body = await fetch("POST", url, data=b"x" * (10 * 1024 * 1024 + 1))
        assert status == 413 and json.loads(body) == {"message": "Request Entity Too Large"}

    run(scenario())


def test_a_nine_kilobyte_cookie_passes_and_headers_over_api_gateways_quota_are_431() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def scenario() -> None:
        table = routes_from_functions({"fn": {}})
        async with serving(table, recording_invoke(b"{}", seen=seen)) as url:
            status, _, _ = await fetch("GET", url, headers={"Cookie": "session=" + "x" * 9000})
            assert status == 200  # a single line past aiohttp's 8,190 bytes, under the 10,240 quota
            status, _, body = await fetch("GET", url, headers={"Cookie": "a=" + "x" * 6000,
                                                               "X-Token": "y" * 5000})
            assert status == 431
            assert json.loads(body) == {"message": "HTTP header is larger than 10240 bytes."}

    run(scenario())
    assert len(seen) == 1 and seen[0][1]["cookies"] == ["session=" + "x" * 9000]


def test_service_errors_from_lambda_map_to_gateway_answers() -> None:
    async def throttled(function_name: str, payload: bytes) -> InvokeResult:
        raise ServiceError("TooManyRequestsException", "Rate Exceeded.", status=429)

    async def scenario() -> None:
        async with serving(routes_from_functions({"fn": {}}), throttled) as url:
            status, _, _ = await fetch("GET", url)
        assert status == 429

    run(scenario())


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_curl_gets_the_inferred_json_response() -> None:
    async def scenario() -> None:
        async with serving(routes_from_functions({"fn": {}}), recording_invoke(b'{"hello": "curl"}')) as url:
            out = await asyncio.to_thread(subprocess.run, ["curl", "-si", f"{url}/x"], capture_output=True,
                                          timeout=10, check=True)
        text = out.stdout.decode()
        assert text.startswith("HTTP/1.1 200")
        assert "content-type: application/json" in text.lower()
        assert text.endswith('{"hello": "curl"}')

    run(scenario())


def test_event_over_lambdas_six_megabytes_is_413_without_invoking() -> None:
    seen: list[tuple[str, dict[str, Any]]] = []

    async def scenario() -> None:
        async with serving(routes_from_functions({"fn": {}}), recording_invoke(b"{}", seen=seen)) as url:
            status, _, body = await fetch("POST", url, data=b"x" * (7 * 1024 * 1024),
                                          headers={"Content-Type": "text/plain"})
        assert status == 413 and json.loads(body) == {"message": "Request Entity Too Large"}

    run(scenario())
    assert seen == []


def test_framing_headers_from_the_function_are_replaced_by_the_servers() -> None:
    result = json.dumps({"statusCode": 200, "body": "abc",
                         "headers": {"Content-Length": "999", "Transfer-Encoding": "chunked", "X-Kept": "1"}})

    async def scenario() -> None:
        async with serving(routes_from_functions({"fn": {}}), recording_invoke(result.encode())) as url:
            status, headers, body = await fetch("GET", url)
        assert (status, body) == (200, b"abc")
        assert headers["Content-Length"] == "3" and headers["X-Kept"] == "1"
        assert "Transfer-Encoding" not in headers

    run(scenario())
