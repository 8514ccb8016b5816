"""Who may call ``lamina serve``: what a web page can send is refused; boto3, the CLI and curl work."""

from __future__ import annotations

import base64
import io
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import botocore.config
import pytest
from botocore.exceptions import ClientError

from tests.conftest import free_port
from tests.deploy.conftest import ROLE
from tests.local.local_helpers import (
    FUNCTIONS,
    RIC_BOOTSTRAP,
    LaminaServer,
    lambda_client,
    lamina_serve,
    post,
)

EVIL = "http://evil.example"
BROWSER = {"Origin": EVIL, "Content-Type": "text/plain"}  # a "simple" request: no preflight


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


APP = _zip("def handler(event, context):\n    return {'ran': True}\n")


def raw(method: str, url: str, body: bytes | None = None,
        headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], bytes]:
    """A request as a browser or curl makes it: no signature unless ``headers`` has one."""
    request = urllib.request.Request(url, data=body, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as err:
        return err.code, dict(err.headers), err.read()


def create_body(name: str) -> bytes:
    return json.dumps({"FunctionName": name, "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(APP).decode()}}).encode()


def started(server: LaminaServer, name: str) -> int:
    """How many invocations of ``name`` the server's log shows (its START lines)."""
    return sum(1 for line in server.logs().splitlines() if name in line and "START RequestId" in line)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    tmp = tmp_path_factory.mktemp("access")
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP,
                       "--name", "echo", "--data-dir", str(tmp / "data"), "--no-watch"], tmp) as running:
        yield running


def _base(server: LaminaServer) -> str:
    return f"http://127.0.0.1:{server.port}"


def test_browser_simple_post_cannot_create_a_function(server: LaminaServer) -> None:
    status, headers, body = raw("POST", f"{_base(server)}/2015-03-31/functions", create_body("evil"),
                                BROWSER)
    assert status == 403
    assert headers["X-Amzn-ErrorType"] == "AccessDeniedException"
    assert "Access-Control-Allow-Origin" not in headers
    assert EVIL in json.loads(body)["Message"]
    names = [f["FunctionName"] for f in lambda_client(server.port).list_functions()["Functions"]]
    assert "evil" not in names


def test_unsigned_create_without_origin_is_missing_authentication_token(server: LaminaServer) -> None:
    status, headers, _ = raw("POST", f"{_base(server)}/2015-03-31/functions", create_body("unsigned"),
                             {"Content-Type": "text/plain"})
    assert (status, headers["X-Amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")


def test_browser_simple_post_cannot_invoke(server: LaminaServer) -> None:
    client = lambda_client(server.port)
    client.create_function(FunctionName="target", Role=ROLE, Runtime="python3.12", Handler="app.handler",
                           Code={"ZipFile": APP})
    try:
        url = f"{_base(server)}/2015-03-31/functions/target/invocations"
        status, headers, _ = raw("POST", url, b"{}", BROWSER)
        assert (status, headers["X-Amzn-ErrorType"]) == (403, "AccessDeniedException")
        status, headers, _ = raw("POST", url, b"{}", {"Content-Type": "text/plain"})
        assert (status, headers["X-Amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")
        assert started(server, "target") == 0  # the uploaded code never ran
        assert json.loads(client.invoke(FunctionName="target")["Payload"].read()) == {"ran": True}
    finally:
        client.delete_function(FunctionName="target")


def test_foreign_host_is_refused_even_for_reads(server: LaminaServer) -> None:
    for path in ("/2015-03-31/functions", "/2018-10-31/layers"):
        status, headers, body = raw("GET", f"{_base(server)}{path}", None,
                                    {"Host": f"rebind.evil.example:{server.port}"})
        assert (status, headers["X-Amzn-ErrorType"]) == (403, "AccessDeniedException")
        assert b"Functions" not in body
    status, _, _ = raw("GET", f"{_base(server)}/2015-03-31/functions", None,
                       {"Host": f"localhost:{server.port}"})
    assert status == 200


def test_boto3_and_the_aws_cli_work_unchanged(server: LaminaServer, tmp_path: Path) -> None:
    client = lambda_client(server.port)
    client.create_function(FunctionName="signed", Role=ROLE, Runtime="python3.12", Handler="app.handler",
                           Code={"ZipFile": APP})
    try:
        assert json.loads(client.invoke(FunctionName="signed")["Payload"].read()) == {"ran": True}
        events = client.invoke_with_response_stream(FunctionName="echo", Payload=b'{"s": 1}')["EventStream"]
        assert b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e) == b'{"s": 1}'
        out = tmp_path / "out.json"
        env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": os.devnull,
               "AWS_SHARED_CREDENTIALS_FILE": os.devnull}
        done = subprocess.run([str(Path(sys.executable).parent / "aws"), "lambda", "invoke", "--endpoint-url",
                               _base(server), "--function-name", "echo", "--payload", '{"cli": 1}',
                               str(out)],
                              capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        assert json.loads(out.read_text()) == {"cli": 1}
    finally:
        client.delete_function(FunctionName="signed")


def test_emulator_path_works_unsigned_like_curl_but_refuses_a_browser_origin(server: LaminaServer) -> None:
    url = f"{_base(server)}/2015-03-31/functions/function/invocations"
    status, _, body = raw("POST", url, b'{"curl": 1}', {"Content-Type": "application/x-www-form-urlencoded"})
    assert (status, json.loads(body)) == (200, {"curl": 1})
    status, headers, _ = raw("POST", url, b'{"curl": 1}', BROWSER)
    assert (status, headers["X-Amzn-ErrorType"]) == (403, "AccessDeniedException")


def _client(port: int, key: str, secret: str) -> Any:
    return boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        config=botocore.config.Config(retries={"max_attempts": 1}))


def _error_code(call: Any) -> str:
    with pytest.raises(ClientError) as caught:
        call()
    return str(caught.value.response["Error"]["Code"])


def test_auth_verifies_signatures_accepting_the_key_and_refusing_others(tmp_path: Path) -> None:
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP,
                       "--name", "echo", "--data-dir", str(tmp_path / "data"), "--no-watch",
                       "--auth", "AKIDLAMINA:s3cret"], tmp_path) as server:
        good = _client(server.port, "AKIDLAMINA", "s3cret")
        created = good.create_function(FunctionName="made", Role=ROLE, Runtime="python3.12",
                                       Handler="app.handler", Code={"ZipFile": APP},
                                       Environment={"Variables": {"SOME": "value"}})
        assert json.loads(good.invoke(FunctionName="echo", Payload=b'{"a": 1}')["Payload"].read()) == {"a": 1}
        arn = "arn:aws:lambda:us-east-1:123456789012:function:echo"
        answer = good.invoke(FunctionName=arn, Qualifier="$LATEST", Payload=b"{}")  # encoded path and query
        assert answer["StatusCode"] == 200
        got = good.get_function(FunctionName=created["FunctionArn"])
        assert got["Configuration"]["FunctionName"] == "made"

        wrong_secret = _client(server.port, "AKIDLAMINA", "guess")
        assert _error_code(lambda: wrong_secret.invoke(FunctionName="echo")) == "InvalidSignatureException"
        assert _error_code(wrong_secret.list_functions) == "InvalidSignatureException"
        other_key = _client(server.port, "AKIDOTHER", "s3cret")
        assert _error_code(lambda: other_key.invoke(FunctionName="echo")) == "UnrecognizedClientException"
        # any shape-correct Authorization is not enough any more, nor is the emulator path open
        status, headers, _ = raw("POST", f"http://127.0.0.1:{server.port}/2015-03-31/functions/function/"
                                 "invocations", b"{}")
        assert (status, headers["X-Amzn-ErrorType"]) == (403, "MissingAuthenticationTokenException")
        assert started(server, "echo") == 2  # the two signed invocations only


def test_allowed_origin_gets_cors_and_others_stay_refused(tmp_path: Path) -> None:
    page = "http://localhost:5173"
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP,
                       "--name", "echo", "--data-dir", str(tmp_path / "data"), "--no-watch",
                       "--allow-origin", page], tmp_path) as server:
        url = f"http://127.0.0.1:{server.port}/2015-03-31/functions/echo/invocations"
        preflight = {"Origin": page, "Access-Control-Request-Method": "POST",
                     "Access-Control-Request-Headers": "authorization,x-amz-date"}
        status, headers, _ = raw("OPTIONS", url, None, preflight)
        assert status == 204
        assert headers["Access-Control-Allow-Origin"] == page
        assert "authorization" in headers["Access-Control-Allow-Headers"]
        answer = post(url, b'{"page": 1}', {"Origin": page})  # signed, as the AWS SDK in a page signs
        assert answer.status == 200 and answer.headers["Access-Control-Allow-Origin"] == page
        refused = post(url, b"{}", {"Origin": EVIL})
        assert refused.status == 403 and "Access-Control-Allow-Origin" not in refused.headers
        status, headers, _ = raw("OPTIONS", url, None, {**preflight, "Origin": EVIL})
        assert status == 403 and "Access-Control-Allow-Origin" not in headers


def test_http_front_cannot_reach_the_control_plane_and_sends_no_cors_by_default(tmp_path: Path) -> None:
    http_port = free_port()
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP,
                       "--name", "echo", "--data-dir", str(tmp_path / "data"), "--no-watch",
                       "--http", str(http_port)], tmp_path) as server:
        deadline = time.monotonic() + 10
        status = 0
        front = f"http://127.0.0.1:{http_port}/2015-03-31/functions"
        body = create_body("via_front")
        while time.monotonic() < deadline:
            try:
                status, headers, answer = raw("POST", front, body, BROWSER)
                break
            except urllib.error.URLError:
                time.sleep(0.05)
        assert status == 200  # the echo function got an API Gateway event: nothing was created
        assert json.loads(answer)["rawPath"] == "/2015-03-31/functions"
        assert "Access-Control-Allow-Origin" not in headers
        names = [f["FunctionName"] for f in lambda_client(server.port).list_functions()["Functions"]]
        assert "via_front" not in names
