"""The control plane on HTTP: aiohttp routes with Lambda's paths, status codes and error shapes.

Handlers only move bytes: read the JSON body (with Lambda's size cap, independent of the app's
``client_max_size``), call :class:`ControlPlane` in a worker thread (unzipping may take a while and
must not stall invocations on the same loop), and write the JSON reply. Any failure becomes an AWS
exception on the wire; an unexpected one is logged here and reported as ``ServiceException``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from lamina.local.api.control_plane import request_types
from lamina.local.api.control_plane.service import ControlPlane, OnChange
from lamina.local.api.control_plane.store import FunctionStore
from lamina.local.api.responses import service_error_response
from lamina.local.model import names as arns
from lamina.local.model import payloads
from lamina.local.model import service_errors as errors
from lamina.runtime import error_types, protocol

log = logging.getLogger("lamina.control_plane")

CONTROL_PLANE_KEY = web.AppKey("lamina.control_plane", ControlPlane)
CODE_PATH = "/_lamina/code"
MAX_REQUEST = protocol.MAX_DIRECT_UPLOAD_REQUEST + 1024 * 1024  # the zip plus the JSON around it

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def add_control_plane_routes(app: web.Application, store: FunctionStore,
                             on_change: OnChange | None = None) -> ControlPlane:
    """Mount Lambda's function and layer operations on ``app``; return the plane behind them."""
    plane = ControlPlane(store, on_change)
    app[CONTROL_PLANE_KEY] = plane
    functions = "/2015-03-31/functions"
    function = functions + "/{FunctionName}"
    layers = "/2018-10-31/layers"
    versions = layers + "/{LayerName}/versions"
    for path in (functions, functions + "/"):
        app.router.add_post(path, _create_function)
        app.router.add_get(path, _list_functions)
    app.router.add_get(function, _get_function)
    app.router.add_delete(function, _delete_function)
    app.router.add_put(function + "/code", _update_function_code)
    app.router.add_get(function + "/configuration", _get_function_configuration)
    app.router.add_put(function + "/configuration", _update_function_configuration)
    for path in (layers, layers + "/"):
        app.router.add_get(path, _list_layers_or_find)
    for path in (versions, versions + "/"):
        app.router.add_post(path, _publish_layer_version)
        app.router.add_get(path, _list_layer_versions)
    app.router.add_get(versions + "/{VersionNumber}", _get_layer_version)
    app.router.add_delete(versions + "/{VersionNumber}", _delete_layer_version)
    app.router.add_get(CODE_PATH + "/{digest:[0-9a-f]{64}}.zip", _download_code)
    return plane


def _operation(handler: Callable[[web.Request, ControlPlane], Awaitable[web.StreamResponse]]) -> Handler:
    """Give ``handler`` its plane, and turn every failure into an AWS exception response."""

    @functools.wraps(handler)
    async def wrapped(request: web.Request) -> web.StreamResponse:
        try:
            return await handler(request, request.app[CONTROL_PLANE_KEY])
        except errors.ServiceError as exc:
            return _error_response(exc)
        except Exception:
            log.exception("control plane failed on %s %s", request.method, request.path)
            return _error_response(errors.ServiceError(error_types.SERVICE, "Internal server error"))

    return wrapped


def _error_response(exc: errors.ServiceError) -> web.Response:
    return service_error_response(exc, str(uuid.uuid4()))


def _json(body: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(body), content_type="application/json",
                        headers={"x-amzn-RequestId": str(uuid.uuid4())})


def _no_content() -> web.Response:
    return web.Response(status=204, headers={"x-amzn-RequestId": str(uuid.uuid4())})


async def _body(request: web.Request, operation: str) -> dict[str, Any]:
    """The request's JSON object, read with Lambda's request size cap."""
    chunks: list[bytes] = []
    size = 0
    too_large = False
    async for chunk in request.content.iter_chunked(1024 * 1024):
        size += len(chunk)
        if size > MAX_REQUEST:
            too_large = True  # keep draining so the client reads our 413 instead of a reset
            continue
        chunks.append(chunk)
    if too_large:
        raise errors.upload_too_large(operation)
    raw = b"".join(chunks)
    if not raw.strip():
        return {}
    body = payloads.parse_json(raw)
    if not isinstance(body, dict):
        raise errors.invalid_json("expected a JSON object")
    request_types.check(body)
    return body


def _region(request: web.Request) -> str:
    return arns.region_from_authorization(request.headers.get("Authorization"))


def _code_url(request: web.Request) -> str:
    return f"{request.url.origin()}{CODE_PATH}"


async def _in_thread(call: Callable[..., Any], *args: Any) -> Any:
    return await asyncio.get_running_loop().run_in_executor(None, functools.partial(call, *args))


@_operation
async def _create_function(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "CreateFunction")
    return _json(await _in_thread(plane.create_function, body, _region(request)), status=201)


@_operation
async def _update_function_code(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionCode")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.update_function_code, name, body))


@_operation
async def _update_function_configuration(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionConfiguration")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.update_function_configuration, name, body))


@_operation
async def _get_function(request: web.Request, plane: ControlPlane) -> web.Response:
    name, qualifier = request.match_info["FunctionName"], request.query.get("Qualifier")
    return _json(plane.get_function(name, qualifier, _code_url(request)))


@_operation
async def _get_function_configuration(request: web.Request, plane: ControlPlane) -> web.Response:
    name, qualifier = request.match_info["FunctionName"], request.query.get("Qualifier")
    return _json(plane.get_function_configuration(name, qualifier))


@_operation
async def _list_functions(request: web.Request, plane: ControlPlane) -> web.Response:
    return _json(plane.list_functions(request.query.get("Marker"), request.query.get("MaxItems")))


@_operation
async def _delete_function(request: web.Request, plane: ControlPlane) -> web.Response:
    name, qualifier = request.match_info["FunctionName"], request.query.get("Qualifier")
    await _in_thread(plane.delete_function, name, qualifier)
    return _no_content()


@_operation
async def _publish_layer_version(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "PublishLayerVersion")
    layer_name = request.match_info["LayerName"]
    response = await _in_thread(plane.publish_layer_version, layer_name, body, _region(request),
                                _code_url(request))
    return _json(response, status=201)


@_operation
async def _get_layer_version(request: web.Request, plane: ControlPlane) -> web.Response:
    layer, version = request.match_info["LayerName"], request.match_info["VersionNumber"]
    return _json(plane.get_layer_version(layer, version, _code_url(request)))


@_operation
async def _list_layers_or_find(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    if query.get("find") == "LayerVersion":  # GetLayerVersionByArn shares ListLayers' path
        return _json(plane.get_layer_version_by_arn(query.get("Arn"), _code_url(request)))
    return _json(plane.list_layers(query.get("CompatibleRuntime"), query.get("CompatibleArchitecture"),
                                   query.get("Marker"), query.get("MaxItems")))


@_operation
async def _list_layer_versions(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_layer_versions(request.match_info["LayerName"], query.get("CompatibleRuntime"),
                                           query.get("CompatibleArchitecture"), query.get("Marker"),
                                           query.get("MaxItems")))


@_operation
async def _delete_layer_version(request: web.Request, plane: ControlPlane) -> web.Response:
    layer, version = request.match_info["LayerName"], request.match_info["VersionNumber"]
    await _in_thread(plane.delete_layer_version, layer, version)
    return _no_content()


@_operation
async def _download_code(request: web.Request, plane: ControlPlane) -> web.StreamResponse:
    path = plane.store.code_zip(request.match_info["digest"])
    if not path.is_file():
        raise errors.layer_version_not_found()  # same "does not exist" message as AWS
    return web.FileResponse(path, headers={"Content-Type": "application/zip"})
