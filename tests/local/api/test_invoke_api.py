"""The Invoke API of ``lamina serve`` through real clients: boto3 and the AWS CLI, unchanged."""

from __future__ import annotations

import base64
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.local.local_helpers import (
    FUNCTIONS,
    RIC_BOOTSTRAP,
    LaminaServer,
    lambda_client,
    lamina_serve,
    post,
)

PROJECT = """
[functions.echo]
code = "{code}"
handler = "handlers.echo"
bootstrap = "{bootstrap}"

[functions.info]
code = "{code}"
handler = "handlers.context_info"
bootstrap = "{bootstrap}"
memory = 256
timeout = 7
env = {{ GREETING = "hi" }}

[functions.logs]
code = "{code}"
handler = "handlers.log_and_return"
bootstrap = "{bootstrap}"

[functions.fail]
code = "{code}"
handler = "handlers.fail"
bootstrap = "{bootstrap}"

[functions.marker]
code = "{code}"
handler = "handlers.write_marker"
bootstrap = "{bootstrap}"
"""
ARN = "arn:aws:lambda:us-east-1:123456789012:function"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    project = tmp_path_factory.mktemp("project")
    (project / "lamina.toml").write_text(PROJECT.format(code=FUNCTIONS, bootstrap=RIC_BOOTSTRAP))
    with lamina_serve([], project, cwd=project) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LaminaServer):  # type: ignore[no-untyped-def]
    return lambda_client(server.port)


def test_boto3_invoke_returns_payload_and_executed_version(client) -> None:  # type: ignore[no-untyped-def]
    response = client.invoke(FunctionName="echo", Payload=json.dumps({"a": 1}))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in response
    assert json.loads(response["Payload"].read()) == {"a": 1}


def test_boto3_invoke_with_tail_returns_the_invocations_log(client) -> None:  # type: ignore[no-untyped-def]
    response = client.invoke(FunctionName="logs", LogType="Tail")
    log = base64.b64decode(response["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert "a line from the handler" in log
    assert lines[-2].startswith("END RequestId: ")
    assert lines[-1].startswith("REPORT RequestId: ") and "\tMax Memory Used: " in lines[-1]


def test_environment_gets_lambdas_variables_context_and_client_context(client) -> None:  # type: ignore[no-untyped-def]
    context = base64.b64encode(json.dumps({"custom": {"k": "v"}}).encode()).decode()
    response = client.invoke(FunctionName="info", ClientContext=context)
    info = json.loads(response["Payload"].read())
    assert info["client_custom"] == {"k": "v"}
    assert info["function_name"] == "info" and info["memory_limit_in_mb"] == "256"
    assert info["invoked_function_arn"] == f"{ARN}:info"
    assert info["remaining_ms"] in range(1, 7001)  # within the function's 7 s timeout
    assert info["log_group_name"] == "/aws/lambda/info"
    assert info["log_stream_name"].split("/")[3].startswith("[$LATEST]")
    assert info["cwd"] == str(FUNCTIONS)
    assert re.fullmatch(r"Root=1-[0-9a-f]{8}-[0-9a-f]{24};Parent=[0-9a-f]{16};Sampled=0", info["trace_id"])
    assert info["env"] == {
        "AWS_LAMBDA_FUNCTION_NAME": "info", "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/info",
        "AWS_REGION": "us-east-1", "TZ": ":UTC", "LAMBDA_TASK_ROOT": str(FUNCTIONS),
        "_HANDLER": "handlers.context_info", "AWS_LAMBDA_INITIALIZATION_TYPE": "on-demand",
        "AWS_EXECUTION_ENV": f"AWS_Lambda_python{sys.version_info.major}.{sys.version_info.minor}",
        "GREETING": "hi"}


def test_function_error_is_200_with_unhandled_and_the_error_document(client) -> None:  # type: ignore[no-untyped-def]
    response = client.invoke(FunctionName="fail")
    assert response["StatusCode"] == 200 and response["FunctionError"] == "Unhandled"
    document = json.loads(response["Payload"].read())
    assert document["errorType"] == "ValueError" and document["errorMessage"] == "kaboom"


@pytest.mark.parametrize("name", ["echo", f"{ARN}:echo", "123456789012:function:echo", "echo:$LATEST",
                                  f"{ARN}:echo:$LATEST"])
def test_function_named_by_name_arn_or_partial_arn(client, name: str) -> None:  # type: ignore[no-untyped-def]
    assert client.invoke(FunctionName=name, Payload=b"[1]")["Payload"].read() == b"[1]"


def test_qualifier_latest_is_accepted_and_an_unknown_version_is_not_found(client) -> None:  # type: ignore[no-untyped-def]
    assert client.invoke(FunctionName="echo", Qualifier="$LATEST")["StatusCode"] == 200
    with pytest.raises(client.exceptions.ResourceNotFoundException, match=f"{ARN}:echo:7"):
        client.invoke(FunctionName="echo", Qualifier="7")


def test_unknown_function_is_resource_not_found(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.invoke(FunctionName="nope")
    error = caught.value.response
    assert error["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert error["Error"]["Message"] == f"Function not found: {ARN}:nope"


def test_dry_run_is_204_without_running_the_function(client) -> None:  # type: ignore[no-untyped-def]
    assert client.invoke(FunctionName="echo", InvocationType="DryRun")["StatusCode"] == 204


def test_event_invocation_is_accepted_with_202_and_runs_in_background(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "marker"
    for _ in range(3):
        response = client.invoke(FunctionName="marker", InvocationType="Event",
                                 Payload=json.dumps({"path": str(marker)}))
        assert response["StatusCode"] == 202 and response["Payload"].read() == b""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (not marker.exists() or len(marker.read_text().split()) < 3):
        time.sleep(0.05)
    assert len(marker.read_text().split()) == 3


def test_malformed_json_is_invalid_request_content(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(client.exceptions.InvalidRequestContentException, match="Could not parse"):
        client.invoke(FunctionName="echo", Payload=b"{not json")


def test_payload_over_the_sync_limit_is_413_request_entity_too_large(server: LaminaServer) -> None:
    result = post(server.url("echo"), b'"' + b"x" * 6291456 + b'"')
    assert result.status == 413
    assert result.headers["X-Amzn-ErrorType"] == "RequestEntityTooLargeException"
    assert json.loads(result.body) == {
        "Type": "User",
        "Message": "Request must be smaller than 6291456 bytes for the InvokeFunction operation"}
    assert server.invoke(b"[2]", name="echo").body == b"[2]"  # and the server keeps serving


def test_unknown_invocation_type_is_invalid_parameter(server: LaminaServer) -> None:
    result = post(server.url("echo"), b"{}", {"X-Amz-Invocation-Type": "Later"})
    assert result.status == 400
    assert result.headers["X-Amzn-ErrorType"] == "InvalidParameterValueException"


def test_aws_cli_invoke_writes_the_payload_and_status(server: LaminaServer, tmp_path: Path) -> None:
    aws = Path(sys.executable).parent / "aws"
    out = tmp_path / "out.json"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1", "AWS_CONFIG_FILE": "/dev/null",
           "AWS_SHARED_CREDENTIALS_FILE": "/dev/null"}
    done = subprocess.run(
        [str(aws), "lambda", "invoke", "--endpoint-url", f"http://127.0.0.1:{server.port}",
         "--function-name", "echo", "--payload", '{"cli": true}', str(out)],
        capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(out.read_text()) == {"cli": True}


def test_aws_cli_invoke_reports_function_error(server: LaminaServer, tmp_path: Path) -> None:
    aws = Path(sys.executable).parent / "aws"
    env = {**os.environ, "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_DEFAULT_REGION": "us-east-1"}
    done = subprocess.run(
        [str(aws), "lambda", "invoke", "--endpoint-url", f"http://127.0.0.1:{server.port}",
         "--function-name", "fail", str(tmp_path / "out.json")],
        capture_output=True, text=True, env=env, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["FunctionError"] == "Unhandled"


def test_a_client_context_with_line_breaks_reaches_the_function_whole(client) -> None:  # type: ignore[no-untyped-def]
    # Valid JSON (CR/LF as whitespace) that would end the runtime's header, or add one, if passed raw.
    context = '{\r\n"custom": {"k": "v"}}\r\n'
    response = client.invoke(FunctionName="info", ClientContext=base64.b64encode(context.encode()).decode())
    body = json.loads(response["Payload"].read())
    assert response["StatusCode"] == 200 and "FunctionError" not in response
    assert body["client_custom"] == {"k": "v"} and len(body["request_id"]) == 36
