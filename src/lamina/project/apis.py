"""API Gateway in a template → the routes ``lamina serve --http`` answers, each with its :class:`Api`.

Read from every place templates declare APIs: SAM's ``Api`` and ``HttpApi`` events (on the implicit
``ServerlessRestApi``/``ServerlessHttpApi`` or on an ``AWS::Serverless::Api``/``HttpApi`` resource,
merged over ``Globals.Api``/``Globals.HttpApi``), OpenAPI bodies (``DefinitionBody``, ``DefinitionUri``,
``Body``: ``x-amazon-apigateway-integration`` naming a function, binary media types, CORS), and the
CloudFormation resources CDK synthesizes (``AWS::ApiGateway::RestApi/Resource/Method/Stage`` and
``AWS::ApiGatewayV2::Api/Route/Integration/Stage``). Stage names, stage variables, CORS and binary media
types become the route's :class:`~lamina.local.frontends.routes.Api`; SAM's REST ``Cors`` becomes the
OPTIONS mock methods SAM adds to every path. Anything else is warned about, once, by resource and
property. Pure code apart from reading a ``DefinitionUri`` file.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Tuple

from lamina.local.frontends.routes import (
    DEFAULT_ROUTE_KEY,
    HTTP_API,
    REST_API,
    Api,
    Cors,
    InvalidRouteError,
    Route,
    parse_route,
)
from lamina.project.intrinsics import load_yaml

__all__ = ["IMPLICIT_HTTP_API", "IMPLICIT_REST_API", "ApiSet", "warn_ignored"]

IMPLICIT_REST_API, IMPLICIT_HTTP_API = "ServerlessRestApi", "ServerlessHttpApi"
SAM_API, SAM_HTTP_API = "AWS::Serverless::Api", "AWS::Serverless::HttpApi"
REST_API_TYPES = ("AWS::ApiGateway::RestApi",)
CFN_API_TYPES = ("AWS::ApiGateway::RestApi", "AWS::ApiGateway::Resource", "AWS::ApiGateway::Method",
                 "AWS::ApiGateway::Stage", "AWS::ApiGateway::Deployment", "AWS::ApiGatewayV2::Api",
                 "AWS::ApiGatewayV2::Route", "AWS::ApiGatewayV2::Integration", "AWS::ApiGatewayV2::Stage",
                 "AWS::ApiGatewayV2::Deployment")
_ANY_METHOD = "x-amazon-apigateway-any-method"
_OPENAPI_METHODS = ("get", "put", "post", "delete", "patch", "head", "options", _ANY_METHOD)
_FUNCTION_IN_ARN = re.compile(r":function:([A-Za-z0-9_-]+)")
_ALL_METHODS = "DELETE,GET,HEAD,OPTIONS,PATCH,POST,PUT"
# Properties with no local effect at all (documentation, names): never warned about.
_DESCRIPTIVE = frozenset({"Description", "Name", "Tags", "OpenApiVersion"})

_SAM_API_HONOURED = frozenset({"StageName", "Variables", "Cors", "BinaryMediaTypes", "DefinitionBody",
                               "DefinitionUri"})
_SAM_HTTP_API_HONOURED = frozenset({"StageName", "StageVariables", "CorsConfiguration", "DefinitionBody",
                                    "DefinitionUri"})
_REST_EVENT_HONOURED = frozenset({"Path", "Method", "RestApiId"})
_HTTP_EVENT_HONOURED = frozenset({"Path", "Method", "ApiId", "PayloadFormatVersion"})
_HONOURED: Dict[str, frozenset[str]] = {
    "AWS::ApiGateway::RestApi": frozenset({"BinaryMediaTypes", "Body"}),
    "AWS::ApiGateway::Resource": frozenset({"ParentId", "PathPart", "RestApiId"}),
    "AWS::ApiGateway::Method": frozenset({"HttpMethod", "ResourceId", "RestApiId", "Integration",
                                          "AuthorizationType", "ApiKeyRequired", "MethodResponses"}),
    "AWS::ApiGateway::Stage": frozenset({"RestApiId", "StageName", "Variables", "DeploymentId"}),
    "AWS::ApiGateway::Deployment": frozenset({"RestApiId", "StageName"}),
    "AWS::ApiGatewayV2::Api": frozenset({"ProtocolType", "CorsConfiguration", "Body", "Target", "RouteKey"}),
    "AWS::ApiGatewayV2::Route": frozenset({"ApiId", "RouteKey", "Target", "AuthorizationType"}),
    "AWS::ApiGatewayV2::Integration": frozenset({"ApiId", "IntegrationType", "IntegrationUri",
                                                 "PayloadFormatVersion", "IntegrationMethod"}),
    "AWS::ApiGatewayV2::Stage": frozenset({"ApiId", "StageName", "StageVariables", "AutoDeploy"}),
    "AWS::ApiGatewayV2::Deployment": frozenset({"ApiId", "StageName"}),
}


def warn_ignored(resource: str, props: Mapping[str, Any], honoured: frozenset[str],
                 warnings: List[str], what: str = "property") -> None:
    """One warning per property lamina does not apply, naming the resource and the property."""
    for name in props:
        if name not in honoured and name not in _DESCRIPTIVE:
            warnings.append(f"{resource}: {what} {name} is not applied locally (ignored)")


def _unquote(value: Any) -> str:
    """SAM's CORS values are quoted for API Gateway's mapping: ``"'*'"`` means ``*``."""
    text = str(value).strip()
    return text[1:-1] if len(text) >= 2 and text[0] == text[-1] == "'" else text


def _strings(value: Any) -> Tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        return tuple(part.strip() for part in _unquote(value).split(",") if part.strip())
    return tuple(str(v) for v in value)


def _http_cors(value: Any) -> Optional[Cors]:
    """An HTTP API's ``CorsConfiguration`` (``true``: everything allowed) or ``x-amazon-apigateway-cors``."""
    if value is True:
        return Cors(("*",), ("*",), ("*",))
    if not isinstance(value, Mapping):
        return None
    get = {k.lower(): v for k, v in value.items()}.get
    max_age = get("maxage")
    return Cors(allow_origins=_strings(get("alloworigins")), allow_methods=_strings(get("allowmethods")),
                allow_headers=_strings(get("allowheaders")), expose_headers=_strings(get("exposeheaders")),
                max_age=int(max_age) if max_age is not None else None,
                allow_credentials=bool(get("allowcredentials", False)))


def _sam_rest_cors(value: Any) -> Optional[Cors]:
    """SAM's ``Cors`` of a REST API: a quoted origin, or ``AllowOrigin``/``AllowMethods``/…."""
    if isinstance(value, str):
        return Cors(allow_origins=(_unquote(value),))
    if not isinstance(value, Mapping):
        return None
    max_age = value.get("MaxAge")
    return Cors(allow_origins=(_unquote(value.get("AllowOrigin", "'*'")),),
                allow_methods=_strings(value.get("AllowMethods")),
                allow_headers=_strings(value.get("AllowHeaders")),
                max_age=int(_unquote(max_age)) if max_age is not None else None,
                allow_credentials=bool(value.get("AllowCredentials", False)))


def _binary_types(values: Any) -> Tuple[str, ...]:
    """SAM writes ``image~1png`` for ``image/png`` (a JSON pointer escape); CloudFormation plain types."""
    return tuple(str(v).replace("~1", "/") for v in values or [])


@dataclass
class _ApiSpec:
    """An API while the template is read: its settings and its routes (function, key, payload format)."""

    logical_id: str
    kind: str
    stage: str
    stage_variables: Dict[str, str] = field(default_factory=dict)
    cors: Optional[Cors] = None
    binary_media_types: Tuple[str, ...] = ()
    sam_rest_cors: bool = False  # SAM adds OPTIONS mocks to each path of a REST API with Cors
    routes: List[Tuple[str, str, str]] = field(default_factory=list)
    mocks: List[Tuple[str, int, Tuple[Tuple[str, str], ...]]] = field(default_factory=list)

    def api(self) -> Api:
        return Api(self.kind, self.logical_id, self.stage, tuple(sorted(self.stage_variables.items())),
                   self.cors, self.binary_media_types)


class ApiSet:
    """The APIs of one template and their routes; :meth:`routes` builds them once everything is read.

    ``function_of`` maps what a template uses to name a function (its logical id, its FunctionName,
    an ARN holding either) to the name it is served under, or ``None``.
    """

    def __init__(self, resources: Mapping[str, Any], resolve: Callable[[Any], Any],
                 function_of: Callable[[str], Optional[str]], base_dir: Path, warnings: List[str],
                 globals_api: Optional[Mapping[str, Any]] = None,
                 globals_http_api: Optional[Mapping[str, Any]] = None) -> None:
        self.resources = resources
        self.resolve = resolve
        self.function_of = function_of
        self.base_dir = base_dir
        self.warnings = warnings
        self.globals_api = dict(globals_api or {})
        self.globals_http_api = dict(globals_http_api or {})
        self.apis: Dict[str, _ApiSpec] = {}

    # --- SAM ---------------------------------------------------------------------------------------

    def sam_api(self, logical_id: str, props: Mapping[str, Any], kind: str) -> _ApiSpec:
        """An ``AWS::Serverless::Api``/``HttpApi`` (or an implicit one), its Globals merged in."""
        if logical_id in self.apis:
            return self.apis[logical_id]
        glob = self.globals_api if kind == REST_API else self.globals_http_api
        merged = {**glob, **props}
        if kind == REST_API:
            warn_ignored(logical_id, merged, _SAM_API_HONOURED, self.warnings)
            spec = _ApiSpec(logical_id, REST_API, str(merged.get("StageName") or "Prod"),
                            {str(k): str(v) for k, v in (merged.get("Variables") or {}).items()},
                            _sam_rest_cors(merged.get("Cors")), _binary_types(merged.get("BinaryMediaTypes")))
            spec.sam_rest_cors = spec.cors is not None
        else:
            warn_ignored(logical_id, merged, _SAM_HTTP_API_HONOURED, self.warnings)
            spec = _ApiSpec(logical_id, HTTP_API, str(merged.get("StageName") or "$default"),
                            {str(k): str(v) for k, v in (merged.get("StageVariables") or {}).items()},
                            _http_cors(merged.get("CorsConfiguration")))
        self.apis[logical_id] = spec
        self._definition(spec, merged)
        return spec

    def sam_event(self, function: str, event_name: str, kind: str, props: Mapping[str, Any]) -> None:
        """An ``Api`` or ``HttpApi`` event of a served function."""
        owner = f"{function}: event {event_name}"
        rest = kind == "Api"
        honoured = _REST_EVENT_HONOURED if rest else _HTTP_EVENT_HONOURED
        warn_ignored(owner, props, honoured, self.warnings)
        api_ref = props.get("RestApiId" if rest else "ApiId")
        api_type = SAM_API if rest else SAM_HTTP_API
        if api_ref is None:
            implicit = IMPLICIT_REST_API if rest else IMPLICIT_HTTP_API
            spec = self.sam_api(implicit, {}, REST_API if rest else HTTP_API)
        else:
            resource = self.resources.get(str(api_ref))
            if not isinstance(resource, dict) or resource.get("Type") != api_type:
                self.warnings.append(f"{owner}: {api_ref!r} is not an {api_type} of this template; "
                                     "the event is not served")
                return
            spec = self.sam_api(str(api_ref), self.resolve(resource.get("Properties") or {}),
                                REST_API if rest else HTTP_API)
        payload_format = "1.0" if rest else str(props.get("PayloadFormatVersion", "2.0"))
        path, method = props.get("Path"), str(props.get("Method", "ANY")).upper()
        key = DEFAULT_ROUTE_KEY if path is None else f"{'ANY' if method in ('ANY', '*') else method} {path}"
        spec.routes.append((function, key, payload_format))

    # --- OpenAPI -------------------------------------------------------------------------------------

    def _definition(self, spec: _ApiSpec, props: Mapping[str, Any]) -> None:
        body = props.get("DefinitionBody", props.get("Body"))
        uri = props.get("DefinitionUri")
        if body is None and isinstance(uri, str) and not uri.startswith("s3://"):
            try:
                body = load_yaml((self.base_dir / uri).read_text())
            except OSError as exc:
                self.warnings.append(f"{spec.logical_id}: DefinitionUri {uri}: {exc.strerror}; its routes "
                                     "are not served")
        elif body is None and uri is not None:
            self.warnings.append(f"{spec.logical_id}: DefinitionUri {uri!r} is not a local file; its routes "
                                 "are not served")
        if isinstance(body, Mapping):
            self._openapi(spec, body)

    def _openapi(self, spec: _ApiSpec, body: Mapping[str, Any]) -> None:
        spec.binary_media_types += _binary_types(body.get("x-amazon-apigateway-binary-media-types"))
        if spec.kind == HTTP_API and body.get("x-amazon-apigateway-cors") is not None:
            spec.cors = _http_cors(body["x-amazon-apigateway-cors"])
        for path, operations in (body.get("paths") or {}).items():
            if not isinstance(operations, Mapping):
                continue
            for method, operation in operations.items():
                if method.lower() not in _OPENAPI_METHODS or not isinstance(operation, Mapping):
                    continue
                integration = operation.get("x-amazon-apigateway-integration")
                verb = "ANY" if method == _ANY_METHOD else method.upper()
                where = f"{spec.logical_id}: {verb} {path}"
                if not isinstance(integration, Mapping):
                    self.warnings.append(f"{where}: no x-amazon-apigateway-integration; not served")
                    continue
                kind = str(integration.get("type", "")).lower()
                if kind == "mock":
                    spec.mocks.append((f"{verb} {path}", *_openapi_mock(integration)))
                    continue
                function = self.function_of(str(integration.get("uri", "")))
                if kind != "aws_proxy" or function is None:
                    self.warnings.append(f"{where}: integration {kind or '?'} to {integration.get('uri')!r} "
                                         "is not a Lambda proxy integration of a served function; not served")
                    continue
                default = "1.0" if spec.kind == REST_API else "2.0"
                payload_format = str(integration.get("payloadFormatVersion", default))
                spec.routes.append((function, f"{verb} {path}", payload_format))

    # --- CloudFormation's own resources (CDK) ----------------------------------------------------

    def cloudformation(self, logical_id: str, kind: str, props: Mapping[str, Any]) -> None:
        """Note an ``AWS::ApiGateway*`` resource; :meth:`routes` assembles the APIs from them."""
        warn_ignored(logical_id, props, _HONOURED.get(kind, frozenset()), self.warnings)
        if kind == "AWS::ApiGateway::RestApi":
            spec = self._cfn_api(logical_id, REST_API, "prod")
            spec.binary_media_types += _binary_types(props.get("BinaryMediaTypes"))
            self._definition(spec, props)
        elif kind == "AWS::ApiGatewayV2::Api":
            if str(props.get("ProtocolType", "HTTP")).upper() != "HTTP":
                self.warnings.append(f"{logical_id}: {props.get('ProtocolType')} APIs are not served locally")
                return
            spec = self._cfn_api(logical_id, HTTP_API, "$default")
            spec.cors = _http_cors(props.get("CorsConfiguration")) or spec.cors
            self._definition(spec, props)
            target = props.get("Target")
            function = self.function_of(str(target)) if target is not None else None
            if function is not None:  # quick create: a $default (or the given) route to the function
                spec.routes.append((function, str(props.get("RouteKey", DEFAULT_ROUTE_KEY)), "2.0"))

    def _cfn_api(self, logical_id: str, kind: str, stage: str) -> _ApiSpec:
        if logical_id not in self.apis:
            self.apis[logical_id] = _ApiSpec(logical_id, kind, stage)
        return self.apis[logical_id]

    def _cfn_resources(self, kind: str) -> List[Tuple[str, Dict[str, Any]]]:
        found = []
        for logical_id, resource in self.resources.items():
            if isinstance(resource, dict) and resource.get("Type") == kind:
                found.append((logical_id, self.resolve(resource.get("Properties") or {})))
        return found

    def _rest_paths(self) -> Dict[str, str]:
        """``AWS::ApiGateway::Resource`` logical id → its full path (``RootResourceId``: ``/``)."""
        resources = dict(self._cfn_resources("AWS::ApiGateway::Resource"))
        paths: Dict[str, str] = {}

        def path_of(resource_id: str, depth: int = 0) -> Optional[str]:
            if resource_id.endswith(".RootResourceId"):
                return "/"
            if resource_id in paths:
                return paths[resource_id]
            props = resources.get(resource_id)
            if props is None or depth > 64:
                return None
            parent = path_of(str(props.get("ParentId", "")), depth + 1)
            if parent is None:
                return None
            paths[resource_id] = parent.rstrip("/") + "/" + str(props.get("PathPart", ""))
            return paths[resource_id]

        for resource_id in resources:
            path_of(resource_id)
        return paths

    def _assemble_cloudformation(self) -> None:
        for _, props in self._cfn_resources("AWS::ApiGateway::Stage"):
            spec = self.apis.get(str(props.get("RestApiId")))
            if spec is not None:
                spec.stage = str(props.get("StageName", spec.stage))
                variables = props.get("Variables") or {}
                spec.stage_variables.update({str(k): str(v) for k, v in variables.items()})
        for _, props in self._cfn_resources("AWS::ApiGatewayV2::Stage"):
            spec = self.apis.get(str(props.get("ApiId")))
            if spec is not None:
                spec.stage = str(props.get("StageName", spec.stage))
                spec.stage_variables.update(
                    {str(k): str(v) for k, v in (props.get("StageVariables") or {}).items()})
        paths = self._rest_paths()
        for logical_id, props in self._cfn_resources("AWS::ApiGateway::Method"):
            spec = self.apis.get(str(props.get("RestApiId")))
            resource_id = str(props.get("ResourceId", ""))
            path = "/" if resource_id.endswith(".RootResourceId") else paths.get(resource_id)
            if spec is None or path is None:
                self.warnings.append(f"{logical_id}: method of an unknown REST API or resource; not served")
                continue
            method = str(props.get("HttpMethod", "ANY")).upper()
            key = f"{'ANY' if method == '*' else method} {path}"
            integration = props.get("Integration") or {}
            kind = str(integration.get("Type", "")).upper()
            if kind == "MOCK":
                spec.mocks.append((key, *_cfn_mock(integration)))
                continue
            function = self.function_of(str(integration.get("Uri", "")))
            if kind != "AWS_PROXY" or function is None:
                self.warnings.append(f"{logical_id}: {key}: integration {kind or '?'} is not a Lambda proxy "
                                     "integration of a served function; not served")
                continue
            spec.routes.append((function, key, "1.0"))
        integrations = dict(self._cfn_resources("AWS::ApiGatewayV2::Integration"))
        for logical_id, props in self._cfn_resources("AWS::ApiGatewayV2::Route"):
            spec = self.apis.get(str(props.get("ApiId")))
            target = str(props.get("Target", ""))
            integration_id = target.split("/", 1)[1] if target.startswith("integrations/") else ""
            integration = integrations.get(integration_id)
            if spec is None or integration is None:
                self.warnings.append(f"{logical_id}: route of an unknown HTTP API or integration; not served")
                continue
            function = self.function_of(str(integration.get("IntegrationUri", "")))
            if str(integration.get("IntegrationType", "")).upper() != "AWS_PROXY" or function is None:
                self.warnings.append(f"{logical_id}: integration is not a Lambda proxy integration of a "
                                     "served function; not served")
                continue
            spec.routes.append((function, str(props.get("RouteKey", DEFAULT_ROUTE_KEY)),
                                str(integration.get("PayloadFormatVersion", "2.0"))))

    # --- the result ------------------------------------------------------------------------------------

    def routes(self) -> List[Route]:
        """Every API's routes, SAM's CORS OPTIONS mocks added; invalid keys are warned about and left out."""
        self._assemble_cloudformation()
        routes: List[Route] = []
        for spec in self.apis.values():
            api = spec.api()
            seen: set[str] = set()
            for function, key, payload_format in spec.routes:
                try:
                    route = parse_route(key, function, payload_format, api)
                except InvalidRouteError as exc:
                    self.warnings.append(f"{spec.logical_id}: {exc}")
                    continue
                if route.route_key in seen:
                    continue  # the same route from an event and from the definition body
                seen.add(route.route_key)
                routes.append(route)
            mocks = list(spec.mocks)
            if spec.sam_rest_cors and spec.cors is not None:
                mocks.extend(_sam_cors_mocks(spec.cors, [r for r in routes if r.api == api]))
            for key, status, headers in mocks:
                try:
                    mock = parse_route(key, "", "1.0", api, (status, headers))
                except InvalidRouteError as exc:
                    self.warnings.append(f"{spec.logical_id}: {exc}")
                    continue
                if mock.route_key not in seen:
                    seen.add(mock.route_key)
                    routes.append(mock)
        return routes


def function_reference(value: str, names: Mapping[str, str]) -> Optional[str]:
    """The served function a resolved value names: a logical id, a FunctionName, or an ARN with one."""
    if value in names:
        return names[value]
    for match in _FUNCTION_IN_ARN.finditer(value):
        if match.group(1) in names:
            return names[match.group(1)]
    return None


def _cfn_mock(integration: Mapping[str, Any]) -> Tuple[int, Tuple[Tuple[str, str], ...]]:
    """A MOCK integration's first integration response: status and static header values."""
    responses = integration.get("IntegrationResponses") or [{}]
    first = responses[0] if isinstance(responses[0], Mapping) else {}
    return _mock_answer(first.get("StatusCode", 200), first.get("ResponseParameters") or {})


def _openapi_mock(integration: Mapping[str, Any]) -> Tuple[int, Tuple[Tuple[str, str], ...]]:
    responses = integration.get("responses") or {}
    first: Any = next(iter(responses.values()), {}) if isinstance(responses, Mapping) else {}
    first = first if isinstance(first, Mapping) else {}
    return _mock_answer(first.get("statusCode", 200), first.get("responseParameters") or {})


def _mock_answer(status: Any, parameters: Mapping[str, Any]) -> Tuple[int, Tuple[Tuple[str, str], ...]]:
    prefix = "method.response.header."
    headers = tuple((name[len(prefix):], _unquote(value)) for name, value in parameters.items()
                    if name.startswith(prefix))
    return int(str(status)), headers


def _sam_cors_mocks(cors: Cors, routes: List[Route]) -> List[Tuple[str, int, Tuple[Tuple[str, str], ...]]]:
    """The OPTIONS method SAM adds to each path of a REST API with ``Cors`` (a MOCK answering 200)."""
    by_path: Dict[str, List[str]] = {}
    for route in routes:
        if not route.is_default and route.mock is None:
            by_path.setdefault(route.path, []).append(route.method)
    mocks = []
    for path, methods in by_path.items():
        if cors.allow_methods:
            allowed = ",".join(cors.allow_methods)
        elif "ANY" in methods:
            allowed = _ALL_METHODS
        else:
            allowed = ",".join(sorted({*methods, "OPTIONS"}))
        headers = [("Access-Control-Allow-Origin", cors.allow_origins[0] if cors.allow_origins else "*"),
                   ("Access-Control-Allow-Methods", allowed)]
        if cors.allow_headers:
            headers.append(("Access-Control-Allow-Headers", ",".join(cors.allow_headers)))
        if cors.max_age is not None:
            headers.append(("Access-Control-Max-Age", str(cors.max_age)))
        if cors.allow_credentials:
            headers.append(("Access-Control-Allow-Credentials", "true"))
        mocks.append((f"OPTIONS {path}", 200, tuple(headers)))
    return mocks
