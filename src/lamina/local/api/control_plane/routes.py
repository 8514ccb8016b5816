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
from lamina.local.api.control_plane.service import CodeSource, ControlPlane, OnChange, UrlBuilder
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


def add_control_plane_routes(app: web.Application, store: FunctionStore, on_change: OnChange | None = None,
                             code_source: CodeSource | None = None,
                             function_url: UrlBuilder | None = None) -> ControlPlane:
    """Mount Lambda's operations on ``app``; return the plane behind them.

    Every other operation of Lambda's API (botocore's service model) answers an AWS exception
    (:func:`~lamina.local.model.service_errors.not_implemented`), never a bare 404.
    """
    options: dict[str, Any] = {}
    if code_source is not None:
        options["code_source"] = code_source
    if function_url is not None:
        options["function_url"] = function_url
    plane = ControlPlane(store, on_change, **options)
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
    app.router.add_post(function + "/versions", _publish_version)
    app.router.add_get(function + "/versions", _list_versions_by_function)
    app.router.add_post(function + "/aliases", _create_alias)
    app.router.add_get(function + "/aliases", _list_aliases)
    app.router.add_get(function + "/aliases/{Name}", _get_alias)
    app.router.add_put(function + "/aliases/{Name}", _update_alias)
    app.router.add_delete(function + "/aliases/{Name}", _delete_alias)
    app.router.add_post(function + "/policy", _add_permission)
    app.router.add_get(function + "/policy", _get_policy)
    app.router.add_delete(function + "/policy/{StatementId}", _remove_permission)
    app.router.add_post("/2017-03-31/tags/{Resource}", _tag_resource)
    app.router.add_delete("/2017-03-31/tags/{Resource}", _untag_resource)
    app.router.add_get("/2017-03-31/tags/{Resource}", _list_tags)
    app.router.add_put("/2017-10-31/functions/{FunctionName}/concurrency", _put_function_concurrency)
    app.router.add_delete("/2017-10-31/functions/{FunctionName}/concurrency", _delete_function_concurrency)
    app.router.add_get("/2019-09-30/functions/{FunctionName}/concurrency", _get_function_concurrency)
    url = "/2021-10-31/functions/{FunctionName}/url"
    app.router.add_post(url, _create_function_url_config)
    app.router.add_get(url, _get_function_url_config)
    app.router.add_put(url, _update_function_url_config)
    app.router.add_delete(url, _delete_function_url_config)
    app.router.add_get("/2021-10-31/functions/{FunctionName}/urls", _list_function_url_configs)
    event_invoke = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
    app.router.add_put(event_invoke, _put_function_event_invoke_config)
    app.router.add_post(event_invoke, _update_function_event_invoke_config)
    app.router.add_get(event_invoke, _get_function_event_invoke_config)
    app.router.add_delete(event_invoke, _delete_function_event_invoke_config)
    app.router.add_get(event_invoke + "/list", _list_function_event_invoke_configs)
    app.router.add_get("/2016-08-19/account-settings", _get_account_settings)
    app.router.add_get("/2016-08-19/account-settings/", _get_account_settings)
    app.router.add_get("/2020-06-30/functions/{FunctionName}/code-signing-config",
                       _get_function_code_signing_config)
    app.router.add_get("/2021-07-20/functions/{FunctionName}/runtime-management-config",
                       _get_runtime_management_config)
    for path in (layers, layers + "/"):
        app.router.add_get(path, _list_layers_or_find)
    for path in (versions, versions + "/"):
        app.router.add_post(path, _publish_layer_version)
        app.router.add_get(path, _list_layer_versions)
    app.router.add_get(versions + "/{VersionNumber}", _get_layer_version)
    app.router.add_delete(versions + "/{VersionNumber}", _delete_layer_version)
    app.router.add_get(CODE_PATH + "/{digest:[0-9a-f]{64}}.zip", _download_code)
    add_unimplemented_routes(app)
    return plane


# Operations of botocore's Lambda model the local Lambda serves (here, or in the Invoke APIs).
IMPLEMENTED = frozenset([
    "CreateFunction", "UpdateFunctionCode", "UpdateFunctionConfiguration", "GetFunction",
    "GetFunctionConfiguration", "ListFunctions", "DeleteFunction", "PublishVersion", "ListVersionsByFunction",
    "CreateAlias", "GetAlias", "UpdateAlias", "DeleteAlias", "ListAliases", "AddPermission", "GetPolicy",
    "RemovePermission", "TagResource", "UntagResource", "ListTags", "PutFunctionConcurrency",
    "GetFunctionConcurrency", "DeleteFunctionConcurrency", "CreateFunctionUrlConfig", "GetFunctionUrlConfig",
    "UpdateFunctionUrlConfig", "DeleteFunctionUrlConfig", "ListFunctionUrlConfigs",
    "PutFunctionEventInvokeConfig", "UpdateFunctionEventInvokeConfig", "GetFunctionEventInvokeConfig",
    "DeleteFunctionEventInvokeConfig", "ListFunctionEventInvokeConfigs", "GetAccountSettings",
    "GetFunctionCodeSigningConfig", "GetRuntimeManagementConfig", "PublishLayerVersion", "GetLayerVersion",
    "GetLayerVersionByArn", "ListLayers", "ListLayerVersions", "DeleteLayerVersion", "Invoke",
    "InvokeWithResponseStream",
])


def lambda_operations() -> dict[str, dict[str, Any]]:
    """botocore's Lambda operations: name → its ``http`` trait (method, requestUri)."""
    import botocore.loaders  # boto3's own dependency; loaded once, when the routes are mounted

    model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    return {name: dict(operation["http"]) for name, operation in model["operations"].items()}


def add_unimplemented_routes(app: web.Application) -> list[str]:
    """Routes answering AWS's exception for every operation lamina does not serve; returns their names."""
    by_route: dict[tuple[str, str], list[tuple[str, dict[str, str]]]] = {}
    for name, http in sorted(lambda_operations().items()):
        if name in IMPLEMENTED:
            continue
        path, _, query = str(http["requestUri"]).partition("?")
        required = dict(part.partition("=")[::2] for part in query.split("&") if part)
        by_route.setdefault((str(http["method"]), path.replace("+}", "}")), []).append((name, required))
    for (method, path), operations in by_route.items():
        # the most specific query first (ListProvisionedConcurrencyConfigs' ?List=ALL before the Get)
        operations.sort(key=lambda item: -len(item[1]))
        app.router.add_route(method, path, _unimplemented(operations))
    return sorted(name for operations in by_route.values() for name, _ in operations)


def _unimplemented(operations: list[tuple[str, dict[str, str]]]) -> Handler:
    async def answer(request: web.Request) -> web.StreamResponse:
        name = next((name for name, required in operations
                     if all(request.query.get(k) == v for k, v in required.items())), operations[-1][0])
        return _error_response(errors.not_implemented(name, read=request.method == "GET"))

    return answer


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


def _qualifier(request: web.Request) -> str | None:
    return request.query.get("Qualifier")


@_operation
async def _create_function(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "CreateFunction")
    return _json(await _in_thread(plane.create_function, body, _region(request)), status=201)


@_operation
async def _update_function_code(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionCode")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.update_function_code, name, body, _region(request)))


@_operation
async def _update_function_configuration(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionConfiguration")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.update_function_configuration, name, body, _region(request)))


@_operation
async def _get_function(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_function(name, _qualifier(request), _code_url(request), _region(request)))


@_operation
async def _get_function_configuration(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_function_configuration(name, _qualifier(request), _region(request)))


@_operation
async def _list_functions(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_functions(query.get("Marker"), query.get("MaxItems"),
                                      query.get("FunctionVersion")))


@_operation
async def _delete_function(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    await _in_thread(plane.delete_function, name, _qualifier(request), _region(request))
    return _no_content()


@_operation
async def _publish_version(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "PublishVersion")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.publish_version, name, body, _region(request)), status=201)


@_operation
async def _list_versions_by_function(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_versions_by_function(request.match_info["FunctionName"], query.get("Marker"),
                                                 query.get("MaxItems"), _region(request)))


@_operation
async def _create_alias(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "CreateAlias")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.create_alias, name, body, _region(request)), status=201)


@_operation
async def _get_alias(request: web.Request, plane: ControlPlane) -> web.Response:
    info = request.match_info
    return _json(plane.get_alias(info["FunctionName"], info["Name"], _region(request)))


@_operation
async def _update_alias(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateAlias")
    info = request.match_info
    return _json(await _in_thread(plane.update_alias, info["FunctionName"], info["Name"], body,
                                  _region(request)))


@_operation
async def _delete_alias(request: web.Request, plane: ControlPlane) -> web.Response:
    info = request.match_info
    await _in_thread(plane.delete_alias, info["FunctionName"], info["Name"], _region(request))
    return _no_content()


@_operation
async def _list_aliases(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_aliases(request.match_info["FunctionName"], query.get("FunctionVersion"),
                                    query.get("Marker"), query.get("MaxItems"), _region(request)))


@_operation
async def _add_permission(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "AddPermission")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.add_permission, name, _qualifier(request), body, _region(request)),
                 status=201)


@_operation
async def _get_policy(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_policy(name, _qualifier(request), _region(request)))


@_operation
async def _remove_permission(request: web.Request, plane: ControlPlane) -> web.Response:
    info = request.match_info
    await _in_thread(plane.remove_permission, info["FunctionName"], info["StatementId"], _qualifier(request),
                     request.query.get("RevisionId"), _region(request))
    return _no_content()


@_operation
async def _tag_resource(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "TagResource")
    await _in_thread(plane.tag_resource, request.match_info["Resource"], body, _region(request))
    return _no_content()


@_operation
async def _untag_resource(request: web.Request, plane: ControlPlane) -> web.Response:
    keys = request.query.getall("tagKeys", [])
    await _in_thread(plane.untag_resource, request.match_info["Resource"], keys, _region(request))
    return _no_content()


@_operation
async def _list_tags(request: web.Request, plane: ControlPlane) -> web.Response:
    return _json(plane.list_tags(request.match_info["Resource"], _region(request)))


@_operation
async def _put_function_concurrency(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "PutFunctionConcurrency")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.put_function_concurrency, name, body, _region(request)))


@_operation
async def _get_function_concurrency(request: web.Request, plane: ControlPlane) -> web.Response:
    return _json(plane.get_function_concurrency(request.match_info["FunctionName"], _region(request)))


@_operation
async def _delete_function_concurrency(request: web.Request, plane: ControlPlane) -> web.Response:
    await _in_thread(plane.delete_function_concurrency, request.match_info["FunctionName"], _region(request))
    return _no_content()


@_operation
async def _create_function_url_config(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "CreateFunctionUrlConfig")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.create_function_url_config, name, _qualifier(request), body,
                                  _region(request)), status=201)


@_operation
async def _get_function_url_config(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_function_url_config(name, _qualifier(request), _region(request)))


@_operation
async def _update_function_url_config(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionUrlConfig")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.update_function_url_config, name, _qualifier(request), body,
                                  _region(request)))


@_operation
async def _delete_function_url_config(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    await _in_thread(plane.delete_function_url_config, name, _qualifier(request), _region(request))
    return _no_content()


@_operation
async def _list_function_url_configs(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_function_url_configs(request.match_info["FunctionName"], query.get("Marker"),
                                                 query.get("MaxItems"), _region(request)))


@_operation
async def _put_function_event_invoke_config(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "PutFunctionEventInvokeConfig")
    name = request.match_info["FunctionName"]
    return _json(await _in_thread(plane.put_function_event_invoke_config, name, _qualifier(request), body,
                                  _region(request)))


@_operation
async def _update_function_event_invoke_config(request: web.Request, plane: ControlPlane) -> web.Response:
    body = await _body(request, "UpdateFunctionEventInvokeConfig")
    name = request.match_info["FunctionName"]
    update = functools.partial(plane.put_function_event_invoke_config, merge=True)
    return _json(await _in_thread(update, name, _qualifier(request), body, _region(request)))


@_operation
async def _get_function_event_invoke_config(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_function_event_invoke_config(name, _qualifier(request), _region(request)))


@_operation
async def _delete_function_event_invoke_config(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    await _in_thread(plane.delete_function_event_invoke_config, name, _qualifier(request), _region(request))
    return _no_content()


@_operation
async def _list_function_event_invoke_configs(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    return _json(plane.list_function_event_invoke_configs(request.match_info["FunctionName"],
                                                          query.get("Marker"), query.get("MaxItems"),
                                                          _region(request)))


@_operation
async def _get_account_settings(request: web.Request, plane: ControlPlane) -> web.Response:
    return _json(plane.get_account_settings())


@_operation
async def _get_function_code_signing_config(request: web.Request, plane: ControlPlane) -> web.Response:
    return _json(plane.get_function_code_signing_config(request.match_info["FunctionName"], _region(request)))


@_operation
async def _get_runtime_management_config(request: web.Request, plane: ControlPlane) -> web.Response:
    name = request.match_info["FunctionName"]
    return _json(plane.get_runtime_management_config(name, _qualifier(request), _region(request)))


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
