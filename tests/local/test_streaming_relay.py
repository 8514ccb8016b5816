"""Streamed responses through a real ``lamina serve``: boto3's invoke_with_response_stream, plain Invoke."""

from __future__ import annotations

import base64
import http.client
import json
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.local.api import event_stream
from tests.conftest import sigv4_headers
from tests.local.local_helpers import FUNCTIONS, LaminaServer, lambda_client, lamina_serve

LIMIT = 2 * 1024 * 1024
RUNTIME_FUNCTIONS = Path(__file__).resolve().parent.parent / "runtime" / "functions"
# name -> (code directory, handler, timeout)
FUNCTIONS_SERVED = {
    **{name: (FUNCTIONS, f"streaming.{name}", 30) for name in ("until_marker", "mebibytes", "whole")},
    **{name: (RUNTIME_FUNCTIONS, f"streams.{name}", 30) for name in ("fail_midway", "fail_first", "http",
                                                                       "bad_chunk")},
    "stall": (FUNCTIONS, "streaming.stall", 1),
}
STREAM_PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"


def _project(directory: Path) -> Path:
    tables = "".join(f'[functions.{name}]\ncode = "{code}"\nhandler = "{handler}"\ntimeout = {timeout}\n\n'
                     for name, (code, handler, timeout) in FUNCTIONS_SERVED.items())
    (directory / "lamina.toml").write_text(tables)
    return directory


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    project = _project(tmp_path_factory.mktemp("streaming"))
    with lamina_serve([], project, cwd=project, env={"LAMINA_MAX_STREAMED_RESPONSE": str(LIMIT)}) as running:
        yield running


@pytest.fixture(scope="module")
def client(server: LaminaServer):  # type: ignore[no-untyped-def]
    return lambda_client(server.port, read_timeout=60)


def _events(response) -> list[dict]:  # type: ignore[no-untyped-def]
    return list(response["EventStream"])


def _chunks(events: list[dict]) -> bytes:
    return b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e)


def test_boto3_receives_the_first_chunk_before_the_handler_finishes(client, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    marker = tmp_path / "seen-first-chunk"
    response = client.invoke_with_response_stream(FunctionName="until_marker",
                                                  Payload=json.dumps({"marker": str(marker)}))
    assert response["StatusCode"] == 200
    assert response["ExecutedVersion"] == "$LATEST"
    assert response["ResponseStreamContentType"] == event_stream.CONTENT_TYPE
    stream = iter(response["EventStream"])
    first = next(stream)
    assert first == {"PayloadChunk": {"Payload": b"first;"}}
    marker.touch()  # only now may the handler finish: it streams whether it saw the marker
    rest = list(stream)
    assert _chunks(rest) == b"marker-seen"
    assert rest[-1] == {"InvokeComplete": {}}


def test_mid_stream_error_ends_with_invoke_complete_carrying_the_error(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="fail_midway", LogType="Tail"))
    assert _chunks(events) == b"partial"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "ValueError"
    assert complete["ErrorDetails"] == "broke mid-stream"
    log = base64.b64decode(complete["LogResult"]).decode()
    assert "broke mid-stream" in log and "REPORT RequestId:" in log


def test_error_before_the_first_byte_is_an_ordinary_function_error(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="fail_first"))
    assert _chunks(events) == b""
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "ValueError"
    assert events[-1]["InvokeComplete"]["ErrorDetails"] == "broke before streaming"


def test_a_function_that_does_not_stream_arrives_as_one_payload_chunk(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="whole", LogType="Tail"))
    assert len(events) == 2
    assert json.loads(events[0]["PayloadChunk"]["Payload"]) == {"whole": True}
    assert "whole response" in base64.b64decode(events[1]["InvokeComplete"]["LogResult"]).decode()


def test_a_stream_over_the_limit_is_cut_with_response_size_too_large(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="mebibytes", Payload=b'{"mib": 5}'))
    assert len(_chunks(events)) <= LIMIT
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Function.ResponseSizeTooLarge"
    assert str(LIMIT) in complete["ErrorDetails"]
    # the environment is still usable afterwards
    assert _chunks(_events(client.invoke_with_response_stream(FunctionName="mebibytes"))) == b"z" * 2**20


def test_a_chunk_that_is_not_bytes_or_str_ends_the_stream_with_a_marshal_error(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="bad_chunk"))
    assert _chunks(events) == b"ok"
    assert events[-1]["InvokeComplete"]["ErrorCode"] == "Runtime.MarshalError"


def test_a_stream_that_outlives_the_timeout_ends_with_sandbox_timedout(client) -> None:  # type: ignore[no-untyped-def]
    events = _events(client.invoke_with_response_stream(FunctionName="stall"))
    assert _chunks(events) == b"started"
    complete = events[-1]["InvokeComplete"]
    assert complete["ErrorCode"] == "Sandbox.Timedout"
    assert "Task timed out after 1.00 seconds" in complete["ErrorDetails"]


def test_a_caller_leaving_mid_stream_does_not_disturb_the_next_invocation(server: LaminaServer) -> None:
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(b"POST /2015-03-31/functions/mebibytes/invocations HTTP/1.1\r\nHost: x\r\n"
                     b"Content-Length: 11\r\n\r\n{\"mib\": 30}")
        assert sock.recv(65536)  # the stream started; now the caller goes away
    response = _post(server.port, "/2015-03-31/functions/mebibytes/invocations", b'{"mib": 1}')
    assert response.status == 200 and response.read() == b"z" * 2**20


def test_unknown_function_and_event_invocation_type_are_service_errors(client) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.invoke_with_response_stream(FunctionName="nope")
    with pytest.raises(client.exceptions.InvalidParameterValueException):
        client.invoke_with_response_stream(FunctionName="whole", InvocationType="Event")
    dry_run = client.invoke_with_response_stream(FunctionName="whole", InvocationType="DryRun")
    assert dry_run["StatusCode"] == 204


def _post(port: int, path: str, payload: bytes) -> http.client.HTTPResponse:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body=payload,
                       headers=sigv4_headers("POST", f"http://127.0.0.1:{port}{path}", payload))
    return connection.getresponse()


def test_plain_invoke_relays_the_stream_as_chunked_http(server: LaminaServer, tmp_path: Path) -> None:
    marker = tmp_path / "seen-first-chunk"
    response = _post(server.port, "/2015-03-31/functions/until_marker/invocations",
                     json.dumps({"marker": str(marker)}).encode())
    assert response.status == 200
    assert response.getheader("Transfer-Encoding") == "chunked"
    assert response.getheader("Content-Type") == "text/plain"
    assert response.read1() == b"first;"
    marker.touch()
    assert response.read() == b"marker-seen"


def test_plain_invoke_passes_the_http_integration_prelude_through(server: LaminaServer) -> None:
    response = _post(server.port, "/2015-03-31/functions/http/invocations", b"{}")
    assert response.getheader("Content-Type") == "application/vnd.awslambda.http-integration-response"
    prelude, _, body = response.read().partition(b"\0" * 8)
    assert json.loads(prelude) == {"statusCode": 201, "headers": {"content-type": "text/html"},
                                   "cookies": ["a=b"]}
    assert body == b"<h1>hi</h1>"


def test_plain_invoke_reports_a_mid_stream_error_and_the_log_tail_in_trailers(server: LaminaServer) -> None:
    path = "/2015-03-31/functions/fail_midway/invocations"
    signed = sigv4_headers("POST", f"http://127.0.0.1:{server.port}{path}", b"{}", {"X-Amz-Log-Type": "Tail"})
    request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1:{server.port}\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in signed.items())
               + "Content-Length: 2\r\nConnection: close\r\n\r\n{}").encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=60) as sock:
        sock.sendall(request)
        raw = b""
        while chunk := sock.recv(65536):
            raw += chunk
    head, _, body = raw.partition(b"\r\n\r\n")
    assert b"Transfer-Encoding: chunked" in head
    assert b"partial" in body
    last = body[body.rindex(b"\r\n0\r\n") + 5:]
    trailers = dict(line.split(": ", 1) for line in last.decode().strip().split("\r\n"))
    assert trailers["X-Amz-Function-Error"] == "Unhandled"
    assert trailers["Lambda-Runtime-Function-Error-Type"] == "ValueError"
    document = json.loads(base64.b64decode(trailers["Lambda-Runtime-Function-Error-Body"]))
    assert document["errorMessage"] == "broke mid-stream"
    assert "REPORT RequestId: " in base64.b64decode(trailers["X-Amz-Log-Result"]).decode()


def test_plain_invoke_of_a_function_failing_before_streaming_is_a_normal_error(server: LaminaServer) -> None:
    response = _post(server.port, "/2015-03-31/functions/fail_first/invocations", b"{}")
    assert response.status == 200
    assert response.getheader("X-Amz-Function-Error") == "Unhandled"
    assert json.loads(response.read())["errorMessage"] == "broke before streaming"


def test_a_managed_instances_environment_relays_streams_too(tmp_path: Path) -> None:
    args = ["--code", str(FUNCTIONS), "--handler", "streaming.until_marker", "--max-concurrency", "2",
            "--timeout", "30", "--memory", "1024"]
    with lamina_serve(args, tmp_path) as running:
        marker = tmp_path / "seen"
        payload = json.dumps({"marker": str(marker)}).encode()
        response = _post(running.port, STREAM_PATH.format(name="fn"), payload)
        messages, rest = event_stream.decode(response.read1())
        while not messages:
            more, rest = event_stream.decode(rest + response.read1())
            messages += more
        assert messages[0].payload == b"first;"
        marker.touch()
        more, _ = event_stream.decode(rest + response.read())
    assert [m.payload for m in messages[1:] + more] == [b"marker-seen", b"{}"]


def test_a_stream_ended_before_its_first_byte_with_error_trailers_is_an_ordinary_error(
        tmp_path: Path) -> None:
    runtime = f"{sys.executable} {FUNCTIONS / 'runtimes' / 'empty_stream_error.py'}"
    args = ["--code", str(FUNCTIONS), "--bootstrap", runtime, "--handler", "x"]
    with lamina_serve(args, tmp_path) as running:
        plain = _post(running.port, "/2015-03-31/functions/fn/invocations", b"{}")
        assert plain.getheader("X-Amz-Function-Error") == "Unhandled"
        assert json.loads(plain.read()) == {"errorType": "Function.Oops", "errorMessage": "nothing to stream"}
        messages, _ = event_stream.decode(_post(running.port, STREAM_PATH.format(name="fn"), b"{}").read())
    assert [m.headers[":event-type"] for m in messages] == ["InvokeComplete"]
    assert json.loads(messages[0].payload) == {"ErrorCode": "Function.Oops",
                                               "ErrorDetails": "nothing to stream"}


def _peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    raise AssertionError("no VmHWM")


def test_memory_of_lamina_serve_stays_flat_while_100_mib_stream_through(tmp_path: Path) -> None:
    project = _project(tmp_path)
    with lamina_serve([], project, cwd=project) as running:
        warm = _post(running.port, STREAM_PATH.format(name="mebibytes"), b'{"mib": 1}')
        warm.read()
        before = _peak_rss_kib(running.proc.pid)
        response = _post(running.port, STREAM_PATH.format(name="mebibytes"), b'{"mib": 100}')
        received, buffer = 0, b""
        while data := response.read1(1 << 20):
            buffer += data
            messages, buffer = event_stream.decode(buffer)
            received += sum(len(m.payload) for m in messages if m.headers[":event-type"] == "PayloadChunk")
            complete = [m for m in messages if m.headers[":event-type"] == "InvokeComplete"]
            if complete:
                assert complete[0].payload == b"{}"
        after = _peak_rss_kib(running.proc.pid)
    assert received == 100 * 2**20
    print(f"lamina serve peak RSS: {before} KiB before, {after} KiB after 100 MiB streamed")
    assert after - before < 30 * 1024, f"peak RSS grew from {before} KiB to {after} KiB"
    assert after < 100 * 1024
