"""Extensions under ``lamina serve`` from a project file with local layers (path mode)."""

from __future__ import annotations

import json
import time
from pathlib import Path

from tests.conftest import free_port
from tests.local.extensions import components
from tests.local.local_helpers import lamina_serve


def _project(tmp_path: Path, *extensions: str, env: dict[str, str] | None = None,
             wrapper: bool = False) -> Path:
    components.layer(tmp_path / "layer", *extensions, wrapper=wrapper)
    components.code(tmp_path / "code")
    variables = {"EXT_OUT": str(tmp_path / "ext.out"), **(env or {})}
    listed = ", ".join(f'{key} = "{value}"' for key, value in variables.items())
    (tmp_path / "lamina.toml").write_text(
        f'[functions.fn]\ncode = "code"\nhandler = "app.handler"\ntimeout = 10\nlayers = ["layer"]\n'
        f"env = {{ {listed} }}\n")
    return tmp_path


def _lines(tmp_path: Path) -> list[str]:
    path = tmp_path / "ext.out"
    return path.read_text().splitlines() if path.exists() else []


def _wait_for(tmp_path: Path, text: str, timeout: float = 10.0) -> list[str]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        lines = _lines(tmp_path)
        if any(text in line for line in lines):
            return lines
        time.sleep(0.05)
    raise AssertionError(f"{text!r} never came: {_lines(tmp_path)}")



def test_external_extension_registers_and_gets_invoke_and_shutdown_with_request_ids(
        tmp_path: Path) -> None:
    project = _project(tmp_path, "recorder")
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        first = server.invoke(b"{}", name="fn")
        second = server.invoke(b"{}", name="fn")
        ids = [first.headers["x-amzn-RequestId"], second.headers["x-amzn-RequestId"]]
        _wait_for(tmp_path, f"done {ids[1]}")
    lines = _wait_for(tmp_path, "SHUTDOWN")
    log = server.logs()
    assert first.status == 200 and json.loads(first.body) == {"wrapped": None}
    registered = json.loads(next(line for line in lines if " registered " in line).split(" ", 2)[2])
    assert registered == {"accountId": "123456789012", "functionName": "fn", "functionVersion": "$LATEST",
                          "handler": "app.handler"}
    # the function's variables, less the runtime's own
    assert json.loads(next(line for line in lines if " env " in line).split(" ", 2)[2]) == [
        "AWS_LAMBDA_FUNCTION_NAME", "EXT_OUT"]
    invokes = [line.split() for line in lines if " INVOKE " in line]
    assert [words[2] for words in invokes] == ids
    assert all(words[3].endswith(":function:fn") and words[4] == "True" for words in invokes)
    assert "recorder SHUTDOWN spindown True" in lines
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in log
    assert "[recorder] started" in log  # the extension's output is the function's log


def test_invocation_ends_when_extensions_call_next_again_but_the_response_does_not_wait(
        tmp_path: Path) -> None:
    project = _project(tmp_path, "recorder", env={"EXT_DELAY": "1.5"})
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        first = server.invoke(b"{}", name="fn")
        at_response = _lines(tmp_path)
        second = server.invoke(b"{}", name="fn")
        ids = [first.headers["x-amzn-RequestId"], second.headers["x-amzn-RequestId"]]
        lines = _wait_for(tmp_path, f"done {ids[1]}")
        time.sleep(0.3)
        log = server.logs()
    assert f"recorder done {ids[0]}" not in at_response  # the caller had its answer first
    order = [line for line in lines if ids[0] in line or ids[1] in line]
    # the second invocation starts once the extension is done with the first
    assert [line.split()[1] for line in order] == ["INVOKE", "done", "INVOKE", "done"]
    # REPORT (and its Duration) is written once the extension's post-runtime work is over
    log_lines = log.splitlines()
    done = next(i for i, line in enumerate(log_lines) if f"[recorder] done {ids[0]}" in line)
    report = next(i for i, line in enumerate(log_lines) if f"REPORT RequestId: {ids[0]}" in line)
    assert done < report


def test_function_calls_an_extension_serving_http_on_localhost(tmp_path: Path) -> None:
    port = free_port()
    project = _project(tmp_path, "secrets", env={"SECRETS_PORT": str(port)})
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        answer = server.invoke(b"{}", name="fn")
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["secret"] == {"SecretString": "s3cr3t",
                                                 "path": "/secretsmanager/get?secretId=db"}


def test_shell_script_extension_gets_invoke_events(tmp_path: Path) -> None:
    project = _project(tmp_path, "shell-ext")
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        answer = server.invoke(b"{}", name="fn")
        request_id = answer.headers["x-amzn-RequestId"]
        lines = _wait_for(tmp_path, request_id)
    event = json.loads(next(line for line in lines if request_id in line).split(" ", 1)[1])
    assert event["eventType"] == "INVOKE" and event["requestId"] == request_id
    assert "EXTENSION\tName: shell-ext\tState: Ready\tEvents: [INVOKE]" in server.logs()


def test_telemetry_subscriber_receives_platform_and_function_events(tmp_path: Path) -> None:
    project = _project(tmp_path, "telemetry-sub")
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        answer = server.invoke(b"{}", name="fn")
        request_id = answer.headers["x-amzn-RequestId"]
        _wait_for(tmp_path, '"platform.report"')
    lines = _lines(tmp_path)
    assert 'subscribed 200 "OK"' in lines
    events = [json.loads(line.split(" ", 1)[1]) for line in lines if line.startswith("telemetry ")]
    types = [event["type"] for event in events]
    # init events that happened before the subscription are delivered too
    assert types.index("platform.initStart") < types.index("platform.start")
    assert {"platform.initRuntimeDone", "platform.initReport", "platform.extension",
            "platform.telemetrySubscription", "platform.runtimeDone", "platform.report",
            "function"} <= set(types)
    by_type = {event["type"]: event for event in events}
    assert by_type["platform.start"]["record"]["requestId"] == request_id
    assert by_type["platform.runtimeDone"]["record"]["status"] == "success"
    assert by_type["platform.report"]["record"]["metrics"]["memorySizeMB"] == 128
    assert any(event["type"] == "function" and f"handling {request_id}" in event["record"]
               for event in events)
    assert all(event["time"].endswith("Z") for event in events)
    assert "TELEMETRY\tName: telemetry-sub\tState: Subscribed\tTypes: [Platform, Function]" in server.logs()


def test_extension_crash_fails_the_invocation_and_the_next_one_reinitialises(tmp_path: Path) -> None:
    project = _project(tmp_path, "crash-once")
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        failed = server.invoke(b"{}", name="fn")
        succeeded = server.invoke(b"{}", name="fn")
        log = server.logs()
    assert failed.headers.get("X-Amz-Function-Error") == "Unhandled"
    assert json.loads(failed.body)["errorType"] == "Extension.Crash"
    assert succeeded.status == 200 and json.loads(succeeded.body) == {"wrapped": None}
    assert "Status: error\tError Type: Extension.Crash" in log
    assert "INIT_REPORT" in log and "handling" in log  # the handler ran only the second time
    assert log.count("INIT_START") == 2


def test_exec_wrapper_starts_the_runtime(tmp_path: Path) -> None:
    project = _project(tmp_path, env={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/wrapper"}, wrapper=True)
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        answer = server.invoke(b"{}", name="fn")
    assert answer.status == 200, answer.body
    assert json.loads(answer.body)["wrapped"].startswith("wrapper:/")


def test_internal_extension_registers_during_init_and_gets_invoke_events(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "code" / "app.py").write_text(components.INTERNAL_APP)
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        first = server.invoke(b"{}", name="fn")
        second = server.invoke(b"{}", name="fn")
    assert json.loads(first.body)["late"] == "Extension.RegistrationClosed"
    assert first.headers["x-amzn-RequestId"] in json.loads(second.body)["seen"]
    assert "EXTENSION\tName: inproc\tState: Ready\tEvents: [INVOKE]" in server.logs()


def test_a_function_timeout_sends_shutdown_with_reason_timeout(tmp_path: Path) -> None:
    project = _project(tmp_path, "recorder")
    sleeper = "import time\n\ndef handler(event, context):\n    time.sleep(30)\n"
    (project / "code" / "app.py").write_text(sleeper)
    toml = (project / "lamina.toml").read_text().replace("timeout = 10", "timeout = 1")
    (project / "lamina.toml").write_text(toml)
    with lamina_serve(["--no-watch"], project, cwd=project) as server:
        answer = server.invoke(b"{}", name="fn")
        lines = _wait_for(tmp_path, "SHUTDOWN")
    assert json.loads(answer.body)["errorType"] == "Sandbox.Timedout"
    assert "recorder SHUTDOWN timeout True" in lines


def test_a_sam_template_layer_brings_its_extensions(tmp_path: Path) -> None:
    components.layer(tmp_path / "layer", "recorder")
    components.code(tmp_path / "code")
    (tmp_path / "template.yaml").write_text(f"""\
AWSTemplateFormatVersion: "2010-09-09"
Transform: AWS::Serverless-2016-10-31
Resources:
  Recorder:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: layer
  Fn:
    Type: AWS::Serverless::Function
    Properties:
      FunctionName: fn
      CodeUri: code
      Handler: app.handler
      Runtime: python3.12
      Timeout: 10
      Layers: [!Ref Recorder]
      Environment:
        Variables:
          EXT_OUT: {tmp_path / "ext.out"}
""")
    with lamina_serve(["--no-watch", "--template", str(tmp_path / "template.yaml")], tmp_path,
                      cwd=tmp_path) as server:
        answer = server.invoke(b"{}", name="fn")
        request_id = answer.headers["x-amzn-RequestId"]
        lines = _wait_for(tmp_path, f"done {request_id}")
        log = server.logs()
    assert answer.status == 200
    assert any(line.split()[1:3] == ["INVOKE", request_id] for line in lines)
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in log
