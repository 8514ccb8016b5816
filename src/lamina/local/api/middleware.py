"""The access rules of :mod:`lamina.local.api.access` on aiohttp: one middleware for the whole port.

It refuses what :func:`~lamina.local.api.access.check` refuses (through the one rendering of service
errors), answers an allowed origin's CORS preflight, adds the CORS headers such an origin needs to
read answers, and, with ``--auth``, reads the body once to verify the signature and hands the same
bytes on to the handler. Without ``--auth`` the hot Invoke path costs a few header look-ups.
"""

from __future__ import annotations

import uuid

from aiohttp import streams, web
from aiohttp.typedefs import Handler, Middleware

from lamina.local.api import access
from lamina.local.api.access import AccessConfig
from lamina.local.api.responses import service_error_response
from lamina.local.model import service_errors as errors

__all__ = ["ACCESS_KEY", "install_access"]

ACCESS_KEY = web.AppKey("lamina.access", AccessConfig)
# The largest body a signed request may carry: a control-plane upload (50 MB of zip, base64 in JSON).
MAX_SIGNED_BODY = 80 * 1024 * 1024
_READ_CHUNK = 1024 * 1024
_EXPOSED = ("x-amzn-RequestId, x-amzn-ErrorType, X-Amz-Function-Error, X-Amz-Log-Result, "
            "X-Amz-Executed-Version")


def install_access(app: web.Application, config: AccessConfig) -> None:
    """Apply ``config`` to every request ``app`` serves (call before the app starts)."""
    app[ACCESS_KEY] = config
    app.middlewares.append(_middleware(config))
    if config.origins:
        app.on_response_prepare.append(_cors_headers)


def _middleware(config: AccessConfig) -> Middleware:
    @web.middleware
    async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
        refusal = access.check(request.method, request.path, request.headers, config)
        if refusal is None and access.is_preflight(request.method, request.headers):
            return _preflight(request)
        if refusal is None and config.credentials is not None and access.signature_required(
                request.method, request.path, config):
            refusal = await _verify(request, config.credentials)
        if refusal is not None:
            return service_error_response(refusal, str(uuid.uuid4()))
        return await handler(request)

    return guard


async def _verify(request: web.Request, credentials: access.Credentials) -> errors.ServiceError | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_chunked(_READ_CHUNK):
        size += len(chunk)
        if size > MAX_SIGNED_BODY:
            return errors.request_too_large(MAX_SIGNED_BODY, request.method)
        chunks.append(chunk)
    body = b"".join(chunks)
    headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.raw_headers]
    refusal = access.verify_signature(request.method, request.rel_url.raw_path_qs, request.headers, headers,
                                      body, credentials)
    _replay(request, body)
    return refusal


def _replay(request: web.Request, body: bytes) -> None:
    """Hand the handlers, which read the body as a stream, the bytes already read, as a stream again.

    aiohttp offers no public way to do it: ``content`` is the ``_payload`` stream, cached on first use.
    """
    replay = streams.StreamReader(request.protocol, max(len(body), 2 ** 16), loop=request.loop)
    if body:
        replay.feed_data(body)
    replay.feed_eof()
    request._payload = replay
    request._cache["content"] = replay


def _preflight(request: web.Request) -> web.Response:
    headers = {"Access-Control-Allow-Methods": "GET, POST, PUT, DELETE",
               "Access-Control-Max-Age": "600"}
    asked = request.headers.get("Access-Control-Request-Headers")
    if asked:
        headers["Access-Control-Allow-Headers"] = asked
    return web.Response(status=204, headers=headers)  # the origin headers come from _cors_headers


async def _cors_headers(request: web.Request, response: web.StreamResponse) -> None:
    """An allowed origin may read the answer (the others never get this far)."""
    origin = request.headers.get("Origin")
    if origin is not None and access.origin_allowed(origin, request.app[ACCESS_KEY]):
        response.headers["Access-Control-Allow-Origin"] = origin
        response.headers["Access-Control-Expose-Headers"] = _EXPOSED
        response.headers.add("Vary", "Origin")
