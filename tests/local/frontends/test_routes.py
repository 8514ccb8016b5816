"""Route keys and route selection, as API Gateway's HTTP API declares and picks them."""

from __future__ import annotations

import pytest

from lamina.local.frontends.routes import InvalidRouteError, RouteTable, parse_route, routes_from_functions


def table(*keys: str) -> RouteTable:
    return RouteTable(parse_route(key, f"fn{i}") for i, key in enumerate(keys))


def test_static_route_beats_variable_and_greedy_routes() -> None:
    routes = table("ANY /{proxy+}", "GET /items/{id}", "GET /items/special")
    assert routes.match("GET", "/items/special").route.route_key == "GET /items/special"
    match = routes.match("GET", "/items/42")
    assert match.route.route_key == "GET /items/{id}" and match.path_parameters == {"id": "42"}
    greedy = routes.match("GET", "/other/a/b")
    assert greedy.route.route_key == "ANY /{proxy+}" and greedy.path_parameters == {"proxy": "other/a/b"}


def test_method_route_beats_any_on_the_same_path() -> None:
    routes = table("ANY /items", "POST /items")
    assert routes.match("POST", "/items").route.route_key == "POST /items"
    assert routes.match("GET", "/items").route.route_key == "ANY /items"


def test_longer_greedy_prefix_is_more_specific() -> None:
    routes = table("ANY /a/{proxy+}", "ANY /a/b/{proxy+}")
    assert routes.match("GET", "/a/b/c").route.route_key == "ANY /a/b/{proxy+}"
    assert routes.match("GET", "/a/x").route.route_key == "ANY /a/{proxy+}"


def test_greedy_variable_needs_at_least_one_segment_and_default_catches_the_rest() -> None:
    routes = table("ANY /{proxy+}", "$default")
    assert routes.match("GET", "/").route.route_key == "$default"
    assert table("ANY /{proxy+}").match("GET", "/") is None


def test_no_matching_route_returns_none() -> None:
    assert table("GET /items").match("GET", "/nothing") is None
    assert table("GET /items").match("DELETE", "/items") is None


def test_path_parameters_are_url_decoded() -> None:
    match = table("GET /files/{name}").match("GET", "/files/a%20b")
    assert match.path_parameters == {"name": "a b"}


@pytest.mark.parametrize("key", ["GET items", "FETCH /a", "GET /{proxy+}/x", "GET /{a", "GET /{a}/{a}"])
def test_invalid_route_keys_are_refused_with_a_reason(key: str) -> None:
    with pytest.raises(InvalidRouteError, match="Invalid route key"):
        parse_route(key, "fn")


def test_duplicate_routes_are_refused() -> None:
    with pytest.raises(InvalidRouteError, match="more than once"):
        table("GET /a", "get  /a")


def test_project_functions_without_routes_send_every_path_to_the_only_function() -> None:
    routes = routes_from_functions({"api": {"handler": "app.handler"}})
    assert routes.match("PATCH", "/deep/path").route.function_name == "api"


def test_project_routes_and_payload_format_are_read_per_function() -> None:
    routes = routes_from_functions({
        "items": {"routes": ["GET /items/{id}"], "payload_format": "1.0"},
        "web": {"routes": "ANY /{proxy+}"},
    })
    assert routes.match("GET", "/items/1").route.payload_format == "1.0"
    assert routes.match("GET", "/x").route.function_name == "web"


def test_several_functions_without_routes_is_an_error() -> None:
    with pytest.raises(InvalidRouteError, match="No routes"):
        routes_from_functions({"a": {}, "b": {}})


def test_unrouted_request_of_a_rest_only_table_is_missing_authentication_token() -> None:
    from lamina.local.frontends.http_server import _unrouted
    from lamina.local.frontends.routes import REST_API, Api

    rest = RouteTable([parse_route("GET /items", "fn", "1.0", Api(REST_API, "R", "Prod"))])
    assert _unrouted(rest, "/other").status == 403 and _unrouted(table("GET /items"), "/other").status == 404
