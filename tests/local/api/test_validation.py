"""Invoke's input checked as AWS checks it: names, qualifiers, deep JSON, environment size."""

from __future__ import annotations

import datetime
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator

import pytest
from botocore.exceptions import ClientError

from lamina.local.api.access import Credentials, verify_signature
from lamina.local.model import payloads
from lamina.local.model.service_errors import ServiceError
from tests.conftest import sigv4_headers
from tests.deploy.conftest import ROLE
from tests.local.local_helpers import (
    FUNCTIONS,
    RIC_BOOTSTRAP,
    LaminaServer,
    lambda_client,
    lamina_serve,
    post,
)

DEEP = b"[" * 2000 + b"]" * 2000
INVOKE = "/2015-03-31/functions/{}/invocations"
STREAM = "/2021-11-15/functions/{}/response-streaming-invocations"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    tmp = tmp_path_factory.mktemp("validation")
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP,
                       "--name", "echo", "--data-dir", str(tmp / "data"), "--no-watch"], tmp) as running:
        yield running


def _call(server: LaminaServer, path: str, payload: bytes = b"{}") -> tuple[int, str, str]:
    answer = post(f"http://127.0.0.1:{server.port}{path}", payload)
    body = json.loads(answer.body)
    message = body.get("Message") or body.get("message", "")  # AWS's casing differs by exception
    return answer.status, answer.headers.get("X-Amzn-ErrorType", ""), message


@pytest.mark.parametrize("template", [INVOKE, STREAM])
@pytest.mark.parametrize(("name", "constraint"), [
    ("..%2F..", "Member must satisfy regular expression pattern: (arn:(aws[a-zA-Z-]*)?:lambda:)?"),
    ("a%00b", "Member must satisfy regular expression pattern"),
    ("a" * 171, "Member must have length less than or equal to 64"),
    ("a" * 257, "Member must have length less than or equal to 256"),
])
def test_bad_function_names_are_validation_exceptions(server: LaminaServer, template: str, name: str,
                                                      constraint: str) -> None:
    status, error_type, message = _call(server, template.format(name))
    assert (status, error_type) == (400, "ValidationException")
    assert message.startswith("1 validation error detected: Value '")
    assert "at 'functionName' failed to satisfy constraint: " + constraint in message


@pytest.mark.parametrize("template", [INVOKE, STREAM])
@pytest.mark.parametrize(("qualifier", "constraint"), [
    ("../..", "Member must satisfy regular expression pattern: \\$(LATEST(\\.PUBLISHED)?)|[a-zA-Z0-9-_$]+"),
    ("a" * 129, "Member must have length less than or equal to 128"),
])
def test_bad_qualifiers_are_validation_exceptions(server: LaminaServer, template: str, qualifier: str,
                                                  constraint: str) -> None:
    path = template.format("echo") + "?Qualifier=" + urllib.parse.quote(qualifier)
    status, error_type, message = _call(server, path)
    assert (status, error_type) == (400, "ValidationException")
    assert f"Value '{qualifier}' at 'qualifier' failed to satisfy constraint: {constraint}" in message


def test_control_plane_refuses_the_same_names_with_the_same_words(server: LaminaServer) -> None:
    client = lambda_client(server.port)
    with pytest.raises(ClientError) as caught:
        client.get_function(FunctionName="echo", Qualifier="../..")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'qualifier' failed to satisfy constraint" in caught.value.response["Error"]["Message"]
    with pytest.raises(ClientError) as caught:
        client.get_function(FunctionName="a\0b")
    assert caught.value.response["Error"]["Code"] == "ValidationException"
    assert "at 'functionName' failed to satisfy constraint" in caught.value.response["Error"]["Message"]


@pytest.mark.parametrize("path", [INVOKE.format("echo"), STREAM.format("echo"), INVOKE.format("function"),
                                  "/2015-03-31/functions", "/2015-03-31/functions/echo/configuration"])
def test_json_nested_2000_deep_is_invalid_request_content_never_a_server_error(server: LaminaServer,
                                                                               path: str) -> None:
    if path.endswith("/configuration"):  # UpdateFunctionConfiguration is a PUT
        url = f"http://127.0.0.1:{server.port}{path}"
        signed = sigv4_headers("PUT", url, DEEP)
        request = urllib.request.Request(url, data=DEEP, method="PUT", headers=signed)
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(request, timeout=30)
        status, error_type = caught.value.code, caught.value.headers["X-Amzn-ErrorType"]
        message = json.loads(caught.value.read())["message"]  # InvalidRequestContentException's casing
    else:
        status, error_type, message = _call(server, path, DEEP)
    assert (status, error_type) == (400, "InvalidRequestContentException")
    assert message.startswith("Could not parse request body into json: ")
    assert "nesting depth (2000) exceeds the maximum allowed (1000" in message
    assert _call(server, INVOKE.format("echo"), b'{"still": "serving"}')[0] == 200


def test_emulator_path_unsigned_refuses_deep_json_but_passes_other_payloads(server: LaminaServer) -> None:
    answer = post(f"http://127.0.0.1:{server.port}{INVOKE.format('function')}", DEEP, signed=False)
    assert (answer.status, answer.headers["X-Amzn-ErrorType"]) == (400, "InvalidRequestContentException")
    answer = post(f"http://127.0.0.1:{server.port}{INVOKE.format('function')}", b'[[["ok"]]]', signed=False)
    assert (answer.status, json.loads(answer.body)) == (200, [[["ok"]]])


def test_environment_over_4kb_is_refused_with_awss_message(server: LaminaServer) -> None:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", "def handler(e, c):\n    return 1\n")
    client = lambda_client(server.port)
    big = {"BIG": "x" * 4096}
    with pytest.raises(ClientError) as caught:
        client.create_function(FunctionName="big", Role=ROLE, Runtime="python3.12", Handler="app.handler",
                               Code={"ZipFile": buffer.getvalue()}, Environment={"Variables": big})
    error = caught.value.response["Error"]
    assert error["Code"] == "InvalidParameterValueException"
    assert error["Message"] == ("Lambda was unable to configure your environment variables because the "
                                "environment variables you have provided exceeded the 4KB limit. "
                                f"String measured: {json.dumps(big, separators=(',', ':'))}")
    fits = {"AB": "x" * (4096 - len('{"AB":""}'))}
    client.create_function(FunctionName="fits", Role=ROLE, Runtime="python3.12", Handler="app.handler",
                           Code={"ZipFile": buffer.getvalue()}, Environment={"Variables": fits})
    try:
        with pytest.raises(ClientError) as caught:
            client.update_function_configuration(FunctionName="fits", Environment={"Variables": big})
        assert caught.value.response["Error"]["Code"] == "InvalidParameterValueException"
    finally:
        client.delete_function(FunctionName="fits")


def test_nesting_depth_ignores_brackets_in_strings() -> None:
    assert payloads.nesting_depth(b'{"a": "[[[[", "b": [1, {}]}') == 3
    assert payloads.nesting_depth(b'"\\"[["') == 0
    payloads.check_depth(b"[" * 1000 + b"]" * 1000)
    with pytest.raises(ServiceError):
        payloads.check_depth(b"[" * 1001 + b"]" * 1001)


def test_verify_signature_matches_botocores_signer_and_catches_a_changed_body() -> None:
    arn = urllib.parse.quote("arn:aws:lambda:us-east-1:123456789012:function:f", safe="")
    url = f"http://127.0.0.1:9001/2015-03-31/functions/{arn}/invocations?Qualifier=%24LATEST"
    body = b'{"a": 1}'
    headers = sigv4_headers("POST", url, body, access_key="K", secret_key="S")
    headers["Host"] = "127.0.0.1:9001"
    split = urllib.parse.urlsplit(url)
    path = f"{split.path}?{split.query}"
    now = datetime.datetime.now(datetime.timezone.utc)
    key = Credentials("K", "S")
    assert verify_signature("POST", path, headers, headers.items(), body, key, now) is None
    changed = verify_signature("POST", path, headers, headers.items(), b'{"a": 2}', key, now)
    assert changed is not None and changed.error_type == "InvalidSignatureException"
    later = now + datetime.timedelta(minutes=16)
    expired = verify_signature("POST", path, headers, headers.items(), body, key, later)
    assert expired is not None and expired.message.startswith("Signature expired: ")
