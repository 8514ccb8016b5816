"""The HTTP front: an aiohttp server that answers as API Gateway (or a function URL) in front of Lambda.

It only moves bytes: it reads the request (refusing bodies over API Gateway's 10 MB), picks the route
(:mod:`routes`), builds the event (:mod:`http_events`), calls the injected :data:`Invoker`, and sends
what :mod:`http_results` makes of the result. Binding is 127.0.0.1 unless told otherwise.

CORS is API Gateway's: off unless origins are configured (``cors_origins``; ``*`` for any), so a page
of another origin cannot read the answers (a function may still send its own CORS headers, as through
an API without a CORS configuration). For a configured origin the front answers preflights itself and
adds ``Access-Control-Allow-Origin`` to every answer, overriding the function's, as API Gateway does.
This server has only the route table's routes: the Invoke API and the control plane are not on it.

A template's APIs add their own rules (each route's :class:`~lamina.local.frontends.routes.Api`): an HTTP
API's CORS configuration answers preflights and sets the CORS headers of every answer; a REST API's
OPTIONS mock methods answer as they are declared; a request no route takes is a REST API's
``403 {"message":"Missing Authentication Token"}`` (an HTTP API's ``404 Not Found``); the event carries
the API's stage and stage variables; ``X-Amz-Tenant-Id`` is passed to the invocation (tenant isolation).
Answers are HTTP/1.1 whatever the request's version, as API Gateway's are.

A streamed response (a :class:`StreamedResponse`) is answered as a function URL in ``RESPONSE_STREAM``
mode answers it: status, headers and cookies from its HTTP integration prelude (or ``200`` and its own
content type), then the body in chunks as the function produces them. An error before the status is
sent is the usual ``502``; after it, the response is cut short (no last chunk), the only signal left.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Optional, Tuple

from aiohttp import ClientConnectionResetError, HttpVersion11, web
from multidict import CIMultiDict

from lamina.local.api.access import AccessConfig, host_allowed
from lamina.local.api.limited_site import ConnectionLimiter, LimitedSite
from lamina.local.frontends.http_events import (
    EventContext,
    HttpRequest,
    build_event,
    build_function_url_event,
)
from lamina.local.frontends.http_results import (
    HttpResponse,
    MalformedResultError,
    PreludeReader,
    bad_gateway,
    gateway_error,
    response_from_result,
    stream_head,
)
from lamina.local.frontends.routes import DEFAULT_ROUTE_KEY, Route, RouteMatch, RouteTable, parse_route
from lamina.local.invoke.invoker import Invoker, StreamedResponse
from lamina.local.model.service_errors import ServiceError
from lamina.local.runtime_api.connection_limits import KEEPALIVE_TIMEOUT, ConnectionLimits
from lamina.runtime import protocol

__all__ = ["MAX_REQUEST_BYTES", "create_http_app", "start_http_server"]

MAX_REQUEST_BYTES = 10 * 1024 * 1024  # API Gateway's payload quota
# API Gateway's quota on the request line and header values together (HTTP and REST APIs): a 9 KB
# cookie passes there, so it must here; aiohttp's own bound (8,190 bytes a line) is lifted past it
# and this one applies, answered in API Gateway's shape.
MAX_HEADER_BYTES = 10240
_PARSER_LINE_LIMIT = 64 * 1024
_READ_CHUNK = 256 * 1024
log = logging.getLogger("lamina.http")

_TABLE = web.AppKey("route_table", RouteTable)
_CORS = web.AppKey("cors_origins", frozenset)


def _cors_origin(request: web.Request) -> Optional[str]:
    """The Access-Control-Allow-Origin to answer ``request`` with, if its origin is configured."""
    origin = request.headers.get("Origin")
    origins = request.app[_CORS]
    if origin is None or not origins:
        return None
    if "*" in origins:
        return "*"
    return origin if origin.rstrip("/") in origins else None


def _preflight(request: web.Request, allow_origin: str) -> web.Response:
    headers = {"Access-Control-Allow-Origin": allow_origin, "Access-Control-Max-Age": "600",
               "Access-Control-Allow-Methods": request.headers["Access-Control-Request-Method"]}
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=204, headers=headers)


async def _add_cors(request: web.Request, response: web.StreamResponse) -> None:
    allow_origin = _cors_origin(request)
    if allow_origin is not None:
        response.headers["Access-Control-Allow-Origin"] = allow_origin
        response.headers.add("Vary", "Origin")


def _api_preflight(request: web.Request, table: RouteTable) -> Optional[web.Response]:
    """An HTTP API with a CORS configuration answers preflights itself, for any path (204)."""
    asked = request.headers["Access-Control-Request-Method"]
    match = table.match(asked, request.rel_url.raw_path) or table.path_match(request.rel_url.raw_path)
    cors = match.route.api.cors if match is not None and not match.route.api.is_rest else None
    if cors is None:
        return None
    headers: dict[str, str] = {}
    allow_origin = cors.origin_for(request.headers.get("Origin"))
    if allow_origin is not None:
        headers["Access-Control-Allow-Origin"] = allow_origin
        headers["Access-Control-Allow-Methods"] = ",".join(cors.allow_methods) or asked
        asked_headers = request.headers.get("Access-Control-Request-Headers")
        if cors.allow_headers or asked_headers:
            headers["Access-Control-Allow-Headers"] = ",".join(cors.allow_headers) or str(asked_headers)
        if cors.max_age is not None:
            headers["Access-Control-Max-Age"] = str(cors.max_age)
        if cors.allow_credentials:
            headers["Access-Control-Allow-Credentials"] = "true"
    return web.Response(status=204, headers=headers)


def _api_cors(route: Route, request: web.Request, response: HttpResponse) -> HttpResponse:
    """An HTTP API's CORS headers on an answer, replacing the function's own (as API Gateway does)."""
    cors = route.api.cors
    allow_origin = cors.origin_for(request.headers.get("Origin")) if cors and not route.api.is_rest else None
    if cors is None or allow_origin is None:
        return response
    headers = [(k, v) for k, v in response.headers if not k.lower().startswith("access-control-")]
    headers.append(("Access-Control-Allow-Origin", allow_origin))
    if cors.expose_headers:
        headers.append(("Access-Control-Expose-Headers", ",".join(cors.expose_headers)))
    if cors.allow_credentials:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    return dataclasses.replace(response, headers=headers)


def _unrouted(table: RouteTable, raw_path: str) -> HttpResponse:
    """No route takes the request: a REST API's 403 (its answer to unknown paths and methods), else 404.

    A path of a REST API's route (another method) answers 403; a path of no route answers 403 when only
    REST APIs are served, else 404 (APIs share one port locally).
    """
    match = table.path_match(raw_path)
    if (match is not None and match.route.api.is_rest) or (match is None and table.rest_only):
        return gateway_error(403, "Missing Authentication Token")
    return gateway_error(404, "Not Found")


def _mock_response(match: RouteMatch) -> HttpResponse:
    assert match.route.mock is not None
    status, headers = match.route.mock
    return HttpResponse(status, [("Content-Type", "application/json"), *headers])


def _as_http11(request: web.Request) -> None:
    """API Gateway answers HTTP/1.1 to every client; aiohttp would echo an HTTP/1.0 request's version.

    Only the version of the status line changes: an HTTP/1.0 client without keep-alive still gets
    ``Connection: close``, and a whole (not streamed) answer has its Content-Length.
    """
    if request.version != HttpVersion11:  # aiohttp keeps the version in _version, reified as .version
        request._version = HttpVersion11
        request._cache.pop("version", None)


class _TooLarge(Exception):
    pass


async def _read_body(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise _TooLarge
    chunks: list[bytes] = []
    size = 0
    while True:
        chunk = await request.content.read(_READ_CHUNK)
        if not chunk:
            return b"".join(chunks)
        size += len(chunk)
        if size > limit:
            raise _TooLarge
        chunks.append(chunk)


def _forwarded_headers(request: web.Request) -> list[tuple[str, str]]:
    """The request's headers plus those API Gateway adds (ASGI adapters read scheme and port there)."""
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers
               if k.lower() not in (b"x-forwarded-for", b"x-forwarded-port", b"x-forwarded-proto")]
    source_ip = request.remote or "127.0.0.1"
    forwarded_for = request.headers.get("X-Forwarded-For")
    sockname = request.transport.get_extra_info("sockname") if request.transport else None
    port = str(sockname[1]) if sockname else "80"
    headers.append(("X-Forwarded-For", f"{forwarded_for}, {source_ip}" if forwarded_for else source_ip))
    headers.append(("X-Forwarded-Port", port))
    headers.append(("X-Forwarded-Proto", request.scheme))
    if "X-Amzn-Trace-Id" not in request.headers:
        headers.append(("X-Amzn-Trace-Id", f"Root=1-{int(time.time()):08x}-{os.urandom(12).hex()}"))
    return headers


def _service_error_response(error: ServiceError) -> HttpResponse:
    """What API Gateway answers when Lambda refuses the invocation itself."""
    if error.status == 413:
        return gateway_error(413, "Request Entity Too Large")
    if error.status == 429:
        return gateway_error(429, "Too Many Requests")
    return gateway_error(500, "Internal Server Error")


# Framing is the server's: a function's own values for these would contradict the body sent.
_HOP_BY_HOP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "upgrade"})


def _headers(response: HttpResponse, request_id: str) -> CIMultiDict[str]:
    headers: CIMultiDict[str] = CIMultiDict(
        (name, value) for name, value in response.headers if name.lower() not in _HOP_BY_HOP)
    headers.setdefault("apigw-requestid", request_id)
    return headers


def _to_aiohttp(response: HttpResponse, request_id: str) -> web.Response:
    return web.Response(status=response.status, body=response.body, headers=_headers(response, request_id))


async def _stream_head(streamed: StreamedResponse) -> tuple[HttpResponse, bytes]:
    """The status and headers to send, and the body bytes that came with the prelude.

    Raises MalformedResultError when the prelude is unreadable or the stream ends inside it.
    """
    if streamed.content_type != protocol.CONTENT_TYPE_HTTP_INTEGRATION:
        return stream_head(streamed.content_type), b""
    reader = PreludeReader()
    async for chunk in streamed.chunks:
        split = reader.feed(chunk)
        if split is not None:
            prelude, body = split
            return stream_head(streamed.content_type, prelude), body
    raise MalformedResultError("the stream ended inside its HTTP integration prelude")


async def _relay(request: web.Request, streamed: StreamedResponse, request_id: str,
                 payload_format: str) -> web.StreamResponse:
    """Send a streamed response while the function produces it (chunked transfer encoding)."""
    try:
        head, body = await _stream_head(streamed)
    except MalformedResultError as exc:
        streamed.abandon()
        error = await streamed.outcome()
        log.warning("%s %s: %s", request.method, request.rel_url.raw_path, error or exc)
        return _to_aiohttp(bad_gateway(payload_format), request_id)
    response = web.StreamResponse(status=head.status, headers=_headers(head, request_id))
    try:
        await response.prepare(request)
        if body:
            await response.write(body)
        async for chunk in streamed.chunks:
            await response.write(chunk)
    except (ConnectionError, ClientConnectionResetError):  # the client left; the invocation goes on
        streamed.abandon()
        await streamed.outcome()
        return response
    error = await streamed.outcome()
    if error is not None:
        log.warning("%s %s: function error %s mid-stream", request.method, request.rel_url.raw_path, error)
        # The status is out: closing without the last chunk tells the client the body is incomplete
        # (aiohttp's own write_eof then finds the transport closing and leaves it).
        response.force_close()
        if request.transport is not None:
            request.transport.close()
    return response


# url id -> (function name, qualifier or None), as the control plane's URL configs say now
FunctionUrls = Callable[[], Mapping[str, Tuple[str, Optional[str]]]]
_URL_HOST = ".lambda-url."


def _function_url_target(request: web.Request, function_urls: Optional[FunctionUrls]) -> Optional[RouteMatch]:
    """The function whose URL ``request`` is addressed to (``<url-id>.lambda-url.<anything>``), if any."""
    host = request.host.lower()
    if function_urls is None or _URL_HOST not in host:
        return None
    target = function_urls().get(host.split(".", 1)[0])
    if target is None:
        return None
    name, qualifier = target
    return RouteMatch(parse_route(DEFAULT_ROUTE_KEY, f"{name}:{qualifier}" if qualifier else name), {})


def create_http_app(table: RouteTable, invoke: Invoker, *, api_id: str = "lamina",
                    function_url: bool = False, max_request_bytes: int = MAX_REQUEST_BYTES,
                    cors_origins: Sequence[str] = (),
                    function_urls: Optional[FunctionUrls] = None,
                    hosts: Optional[AccessConfig] = None) -> web.Application:
    """An aiohttp app that sends every request through ``table`` to ``invoke``.

    ``function_url`` builds function URL events (``$default``, no path parameters) for format 2.0.
    ``cors_origins``: the origins CORS is answered for (``*``: any); none by default.
    ``hosts``: the Host names answered (loopback names, the bound address, ``--allow-host``, and any
    ``*.localhost``): a page that rebinds its own name to 127.0.0.1 is refused, as on the Lambda APIs.
    ``function_urls``: the function URLs configured through the control plane (url id → function and
    qualifier); a request to ``<url-id>.lambda-url.localhost`` is that function's URL, as Lambda gives
    each function its own host.
    """

    async def handle(request: web.Request) -> web.StreamResponse:
        response = await answer(request)
        if isinstance(response, web.Response):  # whole answers; a stream is already on its way
            _as_http11(request)
        return response

    async def answer(request: web.Request) -> web.StreamResponse:
        context = EventContext.now(api_id)
        if hosts is not None and not host_allowed(request.host, hosts, localhost_names=True):
            return _to_aiohttp(gateway_error(403, "Forbidden"), context.request_id)
        if _header_bytes(request) > MAX_HEADER_BYTES:
            error = gateway_error(431, f"HTTP header is larger than {MAX_HEADER_BYTES} bytes.")
            return _to_aiohttp(error, context.request_id)
        if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
            allow_origin = _cors_origin(request)
            if allow_origin is not None:  # a preflight API Gateway answers without the function
                return _preflight(request, allow_origin)
            api_preflight = _api_preflight(request, table)
            if api_preflight is not None:
                return api_preflight
        url_target = _function_url_target(request, function_urls)
        match = url_target or table.match(request.method, request.rel_url.raw_path)
        if match is None:
            return _to_aiohttp(_unrouted(table, request.rel_url.raw_path), context.request_id)
        if match.route.mock is not None:
            return _to_aiohttp(_mock_response(match), context.request_id)
        api = match.route.api
        context = dataclasses.replace(context, api_id=api.api_id if api_id == "lamina" else api_id,
                                      stage=api.stage, stage_variables=dict(api.stage_variables))
        try:
            body = await _read_body(request, max_request_bytes)
        except _TooLarge:
            refusal = _to_aiohttp(gateway_error(413, "Request Entity Too Large"), context.request_id)
            refusal.force_close()  # don't drain the rest of an oversized upload
            return refusal
        http_request = HttpRequest(
            method=request.method,
            raw_path=request.rel_url.raw_path,
            raw_query_string=request.rel_url.raw_query_string,
            headers=_forwarded_headers(request),
            body=body,
            source_ip=request.remote or "127.0.0.1",
            protocol=f"HTTP/{request.version.major}.{request.version.minor}",
        )
        if (function_url or url_target is not None) and match.route.payload_format == "2.0":
            event = build_function_url_event(http_request, match, context)
        else:
            event = build_event(http_request, match, context)
        payload = json.dumps(event, separators=(",", ":")).encode()
        function_name = match.route.function_name
        if len(payload) > protocol.MAX_SYNC_REQUEST:  # Lambda refuses it; API Gateway answers 413
            return _to_aiohttp(gateway_error(413, "Request Entity Too Large"), context.request_id)
        tenant_id = request.headers.get("X-Amz-Tenant-Id")
        try:
            if tenant_id:
                result = await invoke(function_name, payload, tenant_id=tenant_id)
            else:
                result = await invoke(function_name, payload)
        except ServiceError as exc:
            log.warning("%s %s -> %s: %s", request.method, request.rel_url.raw_path, function_name, exc)
            return _to_aiohttp(_service_error_response(exc), context.request_id)
        except Exception:  # the local Lambda failed: answer as API Gateway does, keep serving
            log.exception("%s %s -> %s failed", request.method, request.rel_url.raw_path, function_name)
            return _to_aiohttp(gateway_error(500, "Internal Server Error"), context.request_id)
        if isinstance(result, StreamedResponse):
            return await _relay(request, result, context.request_id, match.route.payload_format)
        function_error, body = result
        response = response_from_result(function_error, body, match.route.payload_format, api=api,
                                        accept=request.headers.get("Accept"))
        if response.status == 502:
            log.warning("%s %s -> %s: function error %s or malformed result: %.200r", request.method,
                        request.rel_url.raw_path, function_name, function_error, body)
        return _to_aiohttp(_api_cors(match.route, request, response), context.request_id)

    app = web.Application(client_max_size=max_request_bytes + 1)
    app[_TABLE] = table
    app[_CORS] = frozenset(origin.rstrip("/") for origin in cors_origins)
    if cors_origins:
        app.on_response_prepare.append(_add_cors)
    app.router.add_route("*", "/{tail:.*}", handle)
    return app


def _header_bytes(request: web.BaseRequest) -> int:
    """The request line and header values, as API Gateway counts them against its quota."""
    line = len(request.method) + len(request.raw_path) + len("HTTP/1.1") + 2
    return line + sum(len(value) for _, value in request.raw_headers)


async def start_http_server(app: web.Application, host: str = "127.0.0.1", port: int = 3000,
                            runner: Optional[web.AppRunner] = None,
                            limits: Optional[ConnectionLimits] = None) -> web.AppRunner:
    """Start ``app`` on ``host:port``; the caller awaits ``runner.cleanup()`` to stop it.

    Connections are bounded (header timeout, count: :mod:`lamina.local.runtime_api.connection_limits`).
    """
    # lingering_time: after a 413, read (and drop) the rest of the upload for a moment only, so the
    # client can read the answer and a stop is not held up by aiohttp's default 10 s.
    runner = runner or web.AppRunner(app, access_log=None, lingering_time=1.0,
                                     keepalive_timeout=KEEPALIVE_TIMEOUT,
                                     max_line_size=_PARSER_LINE_LIMIT, max_field_size=_PARSER_LINE_LIMIT)
    await runner.setup()
    assert runner.server is not None
    limiter = ConnectionLimiter(runner.server, limits or ConnectionLimits.from_environment(), "HTTP front")
    await LimitedSite(runner, limiter, host=host, port=port).start()
    return runner
