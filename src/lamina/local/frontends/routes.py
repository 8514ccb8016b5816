"""Routes as API Gateway's HTTP API declares and selects them: ``METHOD /path/{param}`` → function.

A route key is ``GET /items/{id}``, ``ANY /files/{proxy+}`` or ``$default``. When several routes match a
request, API Gateway picks the most specific: static segments beat ``{variables}``, which beat a greedy
``{proxy+}``; a route with a method beats ``ANY`` on the same path; ``$default`` answers last. Pure code:
the HTTP server asks :meth:`RouteTable.match` and builds events from the :class:`RouteMatch`.

Each route belongs to an :class:`Api`: a REST API (``AWS::ApiGateway::RestApi``, SAM's ``Api`` events)
or an HTTP API, with its stage, stage variables, CORS configuration and binary media types, which
change the events and answers (API Gateway's rules, applied by the HTTP server).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Dict, List, Optional, Tuple
from urllib.parse import unquote

from lamina.project.errors import InvalidRouteError

__all__ = [
    "DEFAULT_API",
    "DEFAULT_ROUTE_KEY",
    "HTTP_API",
    "PAYLOAD_FORMATS",
    "REST_API",
    "Api",
    "Cors",
    "InvalidRouteError",
    "Route",
    "RouteMatch",
    "RouteTable",
    "parse_route",
    "routes_from_functions",
]

DEFAULT_ROUTE_KEY = "$default"
METHODS = frozenset({"ANY", "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"})
PAYLOAD_FORMATS = ("2.0", "1.0")

_STATIC, _VARIABLE, _GREEDY = 0, 1, 2
_VARIABLE_RE = re.compile(r"^\{([A-Za-z0-9._-]+)\}$")
_GREEDY_RE = re.compile(r"^\{([A-Za-z0-9._-]+)\+\}$")


REST_API, HTTP_API = "REST", "HTTP"


@dataclass(frozen=True)
class Cors:
    """An API's CORS configuration (SAM's ``Cors``, an HTTP API's ``CorsConfiguration``)."""

    allow_origins: Tuple[str, ...] = ("*",)
    allow_methods: Tuple[str, ...] = ()
    allow_headers: Tuple[str, ...] = ()
    expose_headers: Tuple[str, ...] = ()
    max_age: Optional[int] = None
    allow_credentials: bool = False

    def origin_for(self, origin: Optional[str]) -> Optional[str]:
        """The ``Access-Control-Allow-Origin`` to answer a request from ``origin`` with, if allowed."""
        if origin is None:
            return None
        if "*" in self.allow_origins:
            return origin if self.allow_credentials else "*"
        return origin if origin.rstrip("/") in {o.rstrip("/") for o in self.allow_origins} else None


@dataclass(frozen=True)
class Api:
    """The API a route belongs to, as far as it changes events and answers."""

    kind: str = HTTP_API  # REST_API or HTTP_API
    api_id: str = "lamina"
    stage: str = "$default"  # a REST API always has a named stage (SAM's implicit one is "Prod")
    stage_variables: Tuple[Tuple[str, str], ...] = ()
    cors: Optional[Cors] = None
    binary_media_types: Tuple[str, ...] = ()  # REST APIs only: request bodies passed as base64

    @property
    def is_rest(self) -> bool:
        return self.kind == REST_API

    def is_binary(self, content_type: Optional[str]) -> bool:
        """Whether a REST API treats this media type as binary (``image/*`` and ``*/*`` wildcards)."""
        if not content_type or not self.binary_media_types:
            return False
        main, _, sub = content_type.split(";")[0].strip().lower().partition("/")
        for declared in self.binary_media_types:
            d_main, _, d_sub = declared.lower().partition("/")
            if d_main in ("*", main) and d_sub in ("*", sub):
                return True
        return False


DEFAULT_API = Api()


@dataclass(frozen=True)
class Route:
    """One route: which function answers, and with which event format (``"2.0"`` or ``"1.0"``)."""

    function_name: str
    route_key: str
    method: str = "ANY"
    path: str = ""
    payload_format: str = "2.0"
    api: Api = DEFAULT_API
    # A REST API's MOCK integration (the OPTIONS methods CORS adds): (status, headers) answered as is,
    # without a function.
    mock: Optional[Tuple[int, Tuple[Tuple[str, str], ...]]] = None
    # (kind, text) per path segment; empty for $default
    segments: Tuple[Tuple[int, str], ...] = field(default=(), compare=False)

    @property
    def is_default(self) -> bool:
        return self.route_key == DEFAULT_ROUTE_KEY

    def priority(self) -> tuple[int, tuple[int, ...], int]:
        """Sort key: lower is more specific, as API Gateway orders candidate routes."""
        ranks = tuple(kind for kind, _ in self.segments)
        return (1 if self.is_default else 0, ranks, 1 if self.method == "ANY" else 0)


@dataclass(frozen=True)
class RouteMatch:
    """The route chosen for a request and the path parameters it captured (decoded)."""

    route: Route
    path_parameters: Dict[str, str]


def _parse_segments(path: str, route_key: str) -> tuple[tuple[int, str], ...]:
    if not path.startswith("/"):
        raise InvalidRouteError(f"Invalid route key: {route_key!r}: the path must start with '/'")
    parts = [p for p in path.split("/")[1:] if p != ""] if path != "/" else []
    segments: list[tuple[int, str]] = []
    names: set[str] = set()
    for index, part in enumerate(parts):
        greedy = _GREEDY_RE.match(part)
        variable = _VARIABLE_RE.match(part)
        if greedy:
            if index != len(parts) - 1:
                raise InvalidRouteError(
                    f"Invalid route key: {route_key!r}: a greedy path variable must be the last segment")
            name, kind = greedy.group(1), _GREEDY
        elif variable:
            name, kind = variable.group(1), _VARIABLE
        elif "{" in part or "}" in part:
            raise InvalidRouteError(f"Invalid route key: {route_key!r}: malformed path variable {part!r}")
        else:
            segments.append((_STATIC, part))
            continue
        if name in names:
            raise InvalidRouteError(f"Invalid route key: {route_key!r}: duplicate path variable {name!r}")
        names.add(name)
        segments.append((kind, name))
    return tuple(segments)


def parse_route(route_key: str, function_name: str, payload_format: str = "2.0",
                api: Api = DEFAULT_API,
                mock: Optional[Tuple[int, Tuple[Tuple[str, str], ...]]] = None) -> Route:
    """Parse ``"GET /items/{id}"`` (or ``"$default"``, or a bare ``"/path"`` meaning ANY) into a Route."""
    if payload_format not in PAYLOAD_FORMATS:
        raise InvalidRouteError(f"Invalid payload format version {payload_format!r}: use 1.0 or 2.0")
    key = " ".join(route_key.split())
    if key == DEFAULT_ROUTE_KEY:
        return Route(function_name, DEFAULT_ROUTE_KEY, payload_format=payload_format, api=api, mock=mock)
    method, _, path = key.partition(" ") if " " in key else ("ANY", "", key)
    method = method.upper()
    if method == "*":
        method = "ANY"
    if method not in METHODS:
        raise InvalidRouteError(f"Invalid route key: {route_key!r}: unknown method {method!r}")
    segments = _parse_segments(path, route_key)
    return Route(function_name, f"{method} {path}", method, path, payload_format, api, mock, segments)


def _match_segments(segments: Sequence[tuple[int, str]], parts: Sequence[str]) -> Optional[dict[str, str]]:
    params: dict[str, str] = {}
    for index, (kind, text) in enumerate(segments):
        if kind == _GREEDY:
            rest = parts[index:]
            if not rest:
                return None  # {proxy+} needs at least one segment, as in API Gateway
            params[text] = "/".join(rest)
            return params
        if index >= len(parts):
            return None
        if kind == _STATIC:
            if parts[index] != text:
                return None
        else:
            params[text] = parts[index]
    return params if len(parts) == len(segments) else None


class RouteTable:
    """Routes ordered by specificity; :meth:`match` returns the one API Gateway would select."""

    def __init__(self, routes: Iterable[Route]) -> None:
        self.routes: List[Route] = []
        self.replace(routes)

    def replace(self, routes: Iterable[Route]) -> None:
        """Swap in a new set of routes (a reloaded template); the old set stays if the new is invalid.

        A route key declared twice in one API is refused (API Gateway's ``ConflictException``).
        """
        ordered = sorted(routes, key=Route.priority)
        seen: set[tuple[str, str]] = set()
        for route in ordered:
            key = (route.api.api_id, route.route_key)
            if key in seen:
                raise InvalidRouteError(f"Route {route.route_key!r} is declared more than once"
                                        + ("" if route.api is DEFAULT_API else f" in {route.api.api_id}"))
            seen.add(key)
        self.routes = ordered

    @property
    def rest_only(self) -> bool:
        """Every route is a REST API's: unmatched requests get its ``403 Missing Authentication Token``."""
        return bool(self.routes) and all(route.api.is_rest for route in self.routes)

    def path_match(self, raw_path: str) -> Optional[RouteMatch]:
        """A route of any method for this path (CORS preflights, REST's 403 for a wrong method)."""
        return self.match("ANY", raw_path, any_method=True)

    def match(self, method: str, raw_path: str, *, any_method: bool = False) -> Optional[RouteMatch]:
        parts = [unquote(p) for p in raw_path.split("?")[0].split("/")[1:] if p != ""]
        method = method.upper()
        for route in self.routes:
            if route.is_default:
                return RouteMatch(route, {})
            if not any_method and route.method not in ("ANY", method):
                continue
            params = _match_segments(route.segments, parts)
            if params is not None:
                return RouteMatch(route, params)
        return None

    def function_names(self) -> list[str]:
        return sorted({route.function_name for route in self.routes if route.mock is None})


def routes_from_functions(functions: Mapping[str, Mapping[str, Any]],
                          default_function: Optional[str] = None) -> RouteTable:
    """Routes from project-file function tables (``routes = ["GET /items/{id}"]``, ``payload_format``).

    With no route declared anywhere, every path goes to ``default_function`` (or the only function), as
    a ``$default`` route does; with several functions and no routes there is nothing to choose from.
    """
    routes: list[Route] = []
    for name, config in functions.items():
        payload_format = str(config.get("payload_format", "2.0"))
        declared = config.get("routes", [])
        if isinstance(declared, str):
            declared = [declared]
        for key in declared:
            routes.append(parse_route(str(key), name, payload_format))
    if not routes:
        target = default_function or (next(iter(functions)) if len(functions) == 1 else None)
        if target is None:
            raise InvalidRouteError("No routes are declared: add routes = [\"GET /path\"] to a function, "
                                    "or name the function that answers every path")
        payload_format = str(functions.get(target, {}).get("payload_format", "2.0"))
        routes.append(parse_route(DEFAULT_ROUTE_KEY, target, payload_format))
    return RouteTable(routes)
