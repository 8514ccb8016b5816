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
from dataclasses import dataclass
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


FUNCTIONS = "/2015-03-31/functions"
FUNCTION = FUNCTIONS + "/{FunctionName}"
ALIAS = FUNCTION + "/aliases/{Name}"
URL = "/2021-10-31/functions/{FunctionName}/url"
EVENT_INVOKE = "/2019-09-25/functions/{FunctionName}/event-invoke-config"
LAYER_VERSIONS = "/2018-10-31/layers/{LayerName}/versions"
LAYER_VERSION = LAYER_VERSIONS + "/{VersionNumber}"
TAGS = "/2017-03-31/tags/{Resource}"
_NAME, _QUALIFIER, _REGION = "{FunctionName}", "?Qualifier", "region"
_PAGE = ("?Marker", "?MaxItems")


@dataclass(frozen=True)
class Route:
    """One operation on HTTP: its method and path, and how its arguments are read from the request.

    Each of ``args`` names where one argument of the :class:`ControlPlane` method comes from:
    ``{Name}`` a path member, ``?Name`` a query member (``?Name*`` all its values), ``body`` the JSON
    body, ``region`` the region the request was signed for, ``code_url`` where code is downloaded.
    Writes run in a worker thread (``threaded``): unzipping and merging layers must not stall
    invocations on the same loop. ``status`` 204 answers no content.
    """

    method: str
    path: str
    operation: str
    call: Callable[..., Any]
    args: tuple[str, ...]
    status: int = 200
    threaded: bool = False


def _write(method: str, path: str, operation: str, call: Callable[..., Any], *args: str,
           status: int = 200) -> Route:
    return Route(method, path, operation, call, args, status, threaded=True)


def _read(path: str, operation: str, call: Callable[..., Any], *args: str) -> Route:
    return Route("GET", path, operation, call, args)


CP = ControlPlane
ROUTES: tuple[Route, ...] = (
    _write("POST", FUNCTIONS, "CreateFunction", CP.create_function, "body", _REGION, status=201),
    _read(FUNCTIONS, "ListFunctions", CP.list_functions, *_PAGE, "?FunctionVersion"),
    _read(FUNCTION, "GetFunction", CP.get_function, _NAME, _QUALIFIER, "code_url", _REGION),
    _write("DELETE", FUNCTION, "DeleteFunction", CP.delete_function, _NAME, _QUALIFIER, _REGION, status=204),
    _write("PUT", FUNCTION + "/code", "UpdateFunctionCode", CP.update_function_code, _NAME, "body", _REGION),
    _read(FUNCTION + "/configuration", "GetFunctionConfiguration", CP.get_function_configuration, _NAME,
          _QUALIFIER, _REGION),
    _write("PUT", FUNCTION + "/configuration", "UpdateFunctionConfiguration",
           CP.update_function_configuration, _NAME, "body", _REGION),
    _write("POST", FUNCTION + "/versions", "PublishVersion", CP.publish_version, _NAME, "body", _REGION,
           status=201),
    _read(FUNCTION + "/versions", "ListVersionsByFunction", CP.list_versions_by_function, _NAME, *_PAGE,
          _REGION),
    _write("POST", FUNCTION + "/aliases", "CreateAlias", CP.create_alias, _NAME, "body", _REGION, status=201),
    _read(FUNCTION + "/aliases", "ListAliases", CP.list_aliases, _NAME, "?FunctionVersion", *_PAGE, _REGION),
    _read(ALIAS, "GetAlias", CP.get_alias, _NAME, "{Name}", _REGION),
    _write("PUT", ALIAS, "UpdateAlias", CP.update_alias, _NAME, "{Name}", "body", _REGION),
    _write("DELETE", ALIAS, "DeleteAlias", CP.delete_alias, _NAME, "{Name}", _REGION, status=204),
    _write("POST", FUNCTION + "/policy", "AddPermission", CP.add_permission, _NAME, _QUALIFIER, "body",
           _REGION, status=201),
    _read(FUNCTION + "/policy", "GetPolicy", CP.get_policy, _NAME, _QUALIFIER, _REGION),
    _write("DELETE", FUNCTION + "/policy/{StatementId}", "RemovePermission", CP.remove_permission, _NAME,
           "{StatementId}", _QUALIFIER, "?RevisionId", _REGION, status=204),
    _write("POST", TAGS, "TagResource", CP.tag_resource, "{Resource}", "body", _REGION, status=204),
    _write("DELETE", TAGS, "UntagResource", CP.untag_resource, "{Resource}", "?tagKeys*", _REGION,
           status=204),
    _read(TAGS, "ListTags", CP.list_tags, "{Resource}", _REGION),
    _write("PUT", "/2017-10-31/functions/{FunctionName}/concurrency", "PutFunctionConcurrency",
           CP.put_function_concurrency, _NAME, "body", _REGION),
    _write("DELETE", "/2017-10-31/functions/{FunctionName}/concurrency", "DeleteFunctionConcurrency",
           CP.delete_function_concurrency, _NAME, _REGION, status=204),
    _read("/2019-09-30/functions/{FunctionName}/concurrency", "GetFunctionConcurrency",
          CP.get_function_concurrency, _NAME, _REGION),
    _write("POST", URL, "CreateFunctionUrlConfig", CP.create_function_url_config, _NAME, _QUALIFIER, "body",
           _REGION, status=201),
    _read(URL, "GetFunctionUrlConfig", CP.get_function_url_config, _NAME, _QUALIFIER, _REGION),
    _write("PUT", URL, "UpdateFunctionUrlConfig", CP.update_function_url_config, _NAME, _QUALIFIER, "body",
           _REGION),
    _write("DELETE", URL, "DeleteFunctionUrlConfig", CP.delete_function_url_config, _NAME, _QUALIFIER,
           _REGION, status=204),
    _read("/2021-10-31/functions/{FunctionName}/urls", "ListFunctionUrlConfigs",
          CP.list_function_url_configs, _NAME, *_PAGE, _REGION),
    _write("PUT", EVENT_INVOKE, "PutFunctionEventInvokeConfig", CP.put_function_event_invoke_config, _NAME,
           _QUALIFIER, "body", _REGION),
    _write("POST", EVENT_INVOKE, "UpdateFunctionEventInvokeConfig",
           functools.partial(CP.put_function_event_invoke_config, merge=True), _NAME, _QUALIFIER, "body",
           _REGION),
    _read(EVENT_INVOKE, "GetFunctionEventInvokeConfig", CP.get_function_event_invoke_config, _NAME,
          _QUALIFIER, _REGION),
    _write("DELETE", EVENT_INVOKE, "DeleteFunctionEventInvokeConfig", CP.delete_function_event_invoke_config,
           _NAME, _QUALIFIER, _REGION, status=204),
    _read(EVENT_INVOKE + "/list", "ListFunctionEventInvokeConfigs", CP.list_function_event_invoke_configs,
          _NAME, *_PAGE, _REGION),
    _read("/2016-08-19/account-settings", "GetAccountSettings", CP.get_account_settings),
    _read("/2020-06-30/functions/{FunctionName}/code-signing-config", "GetFunctionCodeSigningConfig",
          CP.get_function_code_signing_config, _NAME, _REGION),
    _read("/2021-07-20/functions/{FunctionName}/runtime-management-config", "GetRuntimeManagementConfig",
          CP.get_runtime_management_config, _NAME, _QUALIFIER, _REGION),
    _write("POST", LAYER_VERSIONS, "PublishLayerVersion", CP.publish_layer_version, "{LayerName}", "body",
           _REGION, "code_url", status=201),
    _read(LAYER_VERSIONS, "ListLayerVersions", CP.list_layer_versions, "{LayerName}", "?CompatibleRuntime",
          "?CompatibleArchitecture", *_PAGE, _REGION),
    _read(LAYER_VERSION, "GetLayerVersion", CP.get_layer_version, "{LayerName}", "{VersionNumber}",
          "code_url", _REGION),
    _write("DELETE", LAYER_VERSION, "DeleteLayerVersion", CP.delete_layer_version, "{LayerName}",
           "{VersionNumber}", _REGION, status=204),
)
# Collection paths answer with or without a trailing slash, as Lambda's do.
_SLASHED = (FUNCTIONS, LAYER_VERSIONS, "/2016-08-19/account-settings")


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
    for route in ROUTES:
        handler = _handler(route)
        for path in (route.path, route.path + "/") if route.path in _SLASHED else (route.path,):
            app.router.add_route(route.method, path, handler)
    for path in ("/2018-10-31/layers", "/2018-10-31/layers/"):
        app.router.add_get(path, _list_layers_or_find)
    app.router.add_get(CODE_PATH + "/{digest:[0-9a-f]{64}}.zip", _download_code)
    add_unimplemented_routes(app)
    return plane


# Operations of botocore's Lambda model the local Lambda serves (here, or in the Invoke APIs).
IMPLEMENTED = frozenset({route.operation for route in ROUTES} |
                        {"ListLayers", "GetLayerVersionByArn", "Invoke", "InvokeWithResponseStream"})


def _handler(route: Route) -> Handler:
    """The aiohttp handler of ``route``: its arguments read, the plane called, the answer written."""

    async def handle(request: web.Request, plane: ControlPlane) -> web.StreamResponse:
        args = [await _argument(request, source, route.operation) for source in route.args]
        if route.threaded:
            answer = await _in_thread(route.call, plane, *args)
        else:
            answer = route.call(plane, *args)
        return _no_content() if route.status == 204 else _json(answer, status=route.status)

    handle.__name__ = f"_{route.operation}"
    return _operation(handle)


async def _argument(request: web.Request, source: str, operation: str) -> Any:
    if source.startswith("{"):
        return request.match_info[source[1:-1]]
    if source.endswith("*"):
        return request.query.getall(source[1:-1], [])
    if source.startswith("?"):
        return request.query.get(source[1:])
    if source == "body":
        return await _body(request, operation)
    if source == "region":
        return _region(request)
    return _code_url(request)


def lambda_operations() -> dict[str, dict[str, Any]]:
    """botocore's Lambda operations: name → its ``http`` trait (method, requestUri).

    Read from the model file botocore ships (its newest API version), loaded once when the routes are
    mounted; ``botocore.loaders`` only if the file is not where botocore keeps it. Importing the
    loader brings urllib3 and the rest of botocore's HTTP stack, 60 ms of ``lamina serve``'s start
    for one JSON file.
    """
    model = _bundled_lambda_model()
    if model is None:
        import botocore.loaders

        model = botocore.loaders.Loader().load_service_model("lambda", "service-2")
    return {name: dict(operation["http"]) for name, operation in model["operations"].items()}


def _bundled_lambda_model() -> dict[str, Any] | None:
    import gzip
    import json
    from pathlib import Path

    import botocore  # the package alone: no HTTP stack

    data = Path(botocore.__file__).parent / "data" / "lambda"
    try:
        newest = max(entry for entry in data.iterdir() if entry.is_dir())
    except (OSError, ValueError):
        return None
    for name, opener in (("service-2.json.gz", gzip.open), ("service-2.json", open)):
        path = newest / name
        if path.is_file():
            with opener(path, "rb") as model:
                loaded: dict[str, Any] = json.load(model)
                return loaded
    return None


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
        except ConnectionResetError:  # the caller left mid-request: nobody to answer, nothing failed
            raise
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
async def _list_layers_or_find(request: web.Request, plane: ControlPlane) -> web.Response:
    query = request.query
    if query.get("find") == "LayerVersion":  # GetLayerVersionByArn shares ListLayers' path
        return _json(plane.get_layer_version_by_arn(query.get("Arn"), _code_url(request)))
    return _json(plane.list_layers(query.get("CompatibleRuntime"), query.get("CompatibleArchitecture"),
                                   query.get("Marker"), query.get("MaxItems"), _region(request)))


@_operation
async def _download_code(request: web.Request, plane: ControlPlane) -> web.StreamResponse:
    path = plane.store.code_zip(request.match_info["digest"])
    if not path.is_file():
        raise errors.layer_version_not_found()  # same "does not exist" message as AWS
    return web.FileResponse(path, headers={"Content-Type": "application/zip"})
