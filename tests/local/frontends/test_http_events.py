"""HTTP request → API Gateway / function URL events, field for field."""

from __future__ import annotations

import base64

from lamina.local.frontends.http_events import (
    EventContext,
    HttpRequest,
    build_function_url_event,
    build_v1_event,
    build_v2_event,
    format_request_time,
    is_text_content_type,
)
from lamina.local.frontends.routes import RouteTable, parse_route

CONTEXT = EventContext(request_id="JKJaXmPLvHcESHA=", time_epoch_ms=1795687200000, api_id="api1")
REQUEST = HttpRequest(
    method="POST",
    raw_path="/items/42",
    raw_query_string="a=1&a=2&b=x%20y",
    headers=[("Host", "api1.example.com"), ("X-Multi", "one"), ("x-multi", "two"),
             ("Cookie", "c1=v1; c2=v2"), ("User-Agent", "curl/8"), ("Content-Type", "application/json")],
    body=b'{"k": "v"}',
    source_ip="127.0.0.1",
)


def match(key: str = "POST /items/{id}", payload_format: str = "2.0"):  # type: ignore[no-untyped-def]
    found = RouteTable([parse_route(key, "fn", payload_format)]).match(REQUEST.method, REQUEST.raw_path)
    assert found is not None
    return found


def test_request_time_is_api_gateways_clf_format() -> None:
    assert format_request_time(1795687200000) == "26/Nov/2026:10:00:00 +0000"


def test_v2_event_has_aws_fields_with_folded_headers_queries_and_cookies() -> None:
    event = build_v2_event(REQUEST, match(), CONTEXT)
    assert event == {
        "version": "2.0",
        "routeKey": "POST /items/{id}",
        "rawPath": "/items/42",
        "rawQueryString": "a=1&a=2&b=x%20y",
        "cookies": ["c1=v1", "c2=v2"],
        "headers": {"host": "api1.example.com", "x-multi": "one,two", "user-agent": "curl/8",
                    "content-type": "application/json"},
        "queryStringParameters": {"a": "1,2", "b": "x y"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api1",
            "domainName": "api1.example.com",
            "domainPrefix": "api1",
            "http": {"method": "POST", "path": "/items/42", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "curl/8"},
            "requestId": "JKJaXmPLvHcESHA=",
            "routeKey": "POST /items/{id}",
            "stage": "$default",
            "time": "26/Nov/2026:10:00:00 +0000",
            "timeEpoch": 1795687200000,
        },
        "body": '{"k": "v"}',
        "pathParameters": {"id": "42"},
        "isBase64Encoded": False,
    }


def test_v2_event_omits_absent_parts() -> None:
    request = HttpRequest(method="GET", raw_path="/items/1")
    event = build_v2_event(request, match("ANY /items/{id}"), CONTEXT)
    assert "body" not in event and "cookies" not in event and "queryStringParameters" not in event
    assert event["isBase64Encoded"] is False


def test_binary_bodies_are_base64_encoded() -> None:
    request = HttpRequest(method="POST", raw_path="/items/1", headers=[("content-type", "image/png")],
                          body=b"\x89PNG\x00\xff")
    event = build_v2_event(request, match(), CONTEXT)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\x89PNG\x00\xff"


def test_text_content_types_include_json_xml_and_suffixes() -> None:
    assert is_text_content_type("text/html; charset=utf-8")
    assert is_text_content_type("application/vnd.api+json")
    assert not is_text_content_type("application/octet-stream")
    assert not is_text_content_type(None)


def test_function_url_event_uses_default_route_without_path_parameters() -> None:
    event = build_function_url_event(REQUEST, match(), CONTEXT)
    assert event["routeKey"] == "$default" and event["requestContext"]["routeKey"] == "$default"
    assert "pathParameters" not in event


def test_v1_event_has_single_and_multi_value_headers_and_queries() -> None:
    event = build_v1_event(REQUEST, match(payload_format="1.0"), CONTEXT)
    assert event["resource"] == "/items/{id}"
    assert event["path"] == "/items/42"
    assert event["httpMethod"] == "POST"
    assert event["headers"]["X-Multi"] == "one"
    assert event["headers"]["x-multi"] == "two"
    assert event["multiValueHeaders"]["Cookie"] == ["c1=v1; c2=v2"]
    assert event["queryStringParameters"] == {"a": "2", "b": "x y"}
    assert event["multiValueQueryStringParameters"] == {"a": ["1", "2"], "b": ["x y"]}
    assert event["pathParameters"] == {"id": "42"}
    assert event["stageVariables"] is None
    assert event["body"] == '{"k": "v"}' and event["isBase64Encoded"] is False
    context = event["requestContext"]
    assert context["httpMethod"] == "POST" and context["resourcePath"] == "/items/{id}"
    assert context["identity"]["sourceIp"] == "127.0.0.1"
    assert context["requestTimeEpoch"] == 1795687200000


def test_v1_event_uses_nulls_for_absent_parts_and_proxy_for_default_route() -> None:
    request = HttpRequest(method="GET", raw_path="/a/b")
    default = RouteTable([parse_route("$default", "fn", "1.0")]).match("GET", "/a/b")
    assert default is not None
    event = build_v1_event(request, default, CONTEXT)
    assert event["body"] is None and event["headers"] is None and event["queryStringParameters"] is None
    assert event["resource"] == "/{proxy+}" and event["pathParameters"] == {"proxy": "a/b"}
