"""Function results → HTTP responses, with API Gateway's inference rules and its 502s."""

from __future__ import annotations

import base64
import json

import pytest

from lamina.local.frontends.http_results import response_from_result


def v2(result: object, function_error: str | None = None):  # type: ignore[no-untyped-def]
    return response_from_result(function_error, json.dumps(result).encode(), "2.0")


def v1(result: object):  # type: ignore[no-untyped-def]
    return response_from_result(None, json.dumps(result).encode(), "1.0")


def test_v2_dict_without_status_code_becomes_200_json() -> None:
    response = v2({"hello": "world"})
    assert response.status == 200
    assert response.header("content-type") == "application/json"
    assert json.loads(response.body) == {"hello": "world"}


def test_v2_string_result_becomes_the_body() -> None:
    response = v2("Hello from Lambda!")
    assert (response.status, response.body) == (200, b"Hello from Lambda!")


def test_v2_structured_result_sets_status_headers_cookies_and_body() -> None:
    response = v2({"statusCode": 201, "headers": {"X-A": "1", "x-n": 5}, "cookies": ["a=1", "b=2; Path=/"],
                   "body": "made"})
    assert response.status == 201
    assert response.header("x-a") == "1" and response.header("x-n") == "5"
    assert [v for k, v in response.headers if k == "set-cookie"] == ["a=1", "b=2; Path=/"]
    assert response.body == b"made"


def test_v2_base64_body_is_decoded() -> None:
    encoded = base64.b64encode(b"\x00\x01").decode()
    response = v2({"statusCode": 200, "body": encoded, "isBase64Encoded": True})
    assert response.body == b"\x00\x01"


def test_function_error_is_502_with_api_gateways_message() -> None:
    response = v2({"errorMessage": "boom", "errorType": "ValueError"}, function_error="Unhandled")
    assert response.status == 502
    assert json.loads(response.body) == {"message": "Internal Server Error"}


@pytest.mark.parametrize("result", [
    {"statusCode": "abc"},
    {"statusCode": 200, "headers": {"a": {"nested": 1}}},
    {"statusCode": 200, "body": {"not": "a string"}},
    {"statusCode": 200, "body": "!!", "isBase64Encoded": True},
    {"statusCode": 200, "cookies": "a=1"},
    {"statusCode": 700},
])
def test_malformed_v2_results_are_502(result: object) -> None:
    response = v2(result)
    assert response.status == 502 and json.loads(response.body) == {"message": "Internal Server Error"}


def test_non_json_result_is_502() -> None:
    assert response_from_result(None, b"not json{", "2.0").status == 502


def test_v1_result_needs_a_status_code() -> None:
    response = v1({"body": "no status"})
    assert response.status == 502 and json.loads(response.body) == {"message": "Internal server error"}


def test_v1_headers_merge_with_multi_value_headers() -> None:
    response = v1({"statusCode": 200, "headers": {"X-A": "1", "X-B": "b"},
                   "multiValueHeaders": {"X-A": ["1", "2"]}, "body": "ok"})
    assert [(k, v) for k, v in response.headers] == [("X-A", "1"), ("X-A", "2"), ("X-B", "b")]
    assert response.body == b"ok"
