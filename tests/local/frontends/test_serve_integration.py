"""The front ends inside a real `lamina serve`: HTTP through Mangum, SAM templates, hot reload, kill -9."""

from __future__ import annotations

import collections
import contextlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

import boto3
from botocore.config import Config

from tests.conftest import ROOT, free_port, free_ports, sigv4_headers, stop_process, wait_for_port

HERE = Path(__file__).resolve().parent


@dataclass
class Served:
    proc: subprocess.Popen[bytes]
    port: int
    http_port: int
    log: Path

    def http(self, path: str, method: str = "GET", data: Optional[bytes] = None,
             headers: Optional[dict[str, str]] = None) -> tuple[int, dict[str, str], bytes]:
        request = urllib.request.Request(f"http://127.0.0.1:{self.http_port}{path}", data=data, method=method,
                                         headers=headers or {})
        try:
            with urllib.request.urlopen(request, timeout=30) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as err:
            return err.code, dict(err.headers), err.read()

    def json_until(self, path: str, done: Callable[[Any], bool], timeout: float = 20.0) -> Any:
        """GET ``path`` until a 200's JSON body satisfies ``done`` (a reload took effect) or time is up.

        Returns the last 200's body (None if there was none), for the caller's assertion.
        """
        deadline = time.monotonic() + timeout
        answer = None
        while time.monotonic() < deadline:
            status, _, body = self.http(path)
            if status == 200:
                answer = json.loads(body)
                if done(answer):
                    break
            time.sleep(0.1)
        return answer

    def event(self, function: str, payload: bytes) -> int:
        url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/{function}/invocations"
        request = urllib.request.Request(url, data=payload, method="POST",
                                         headers=sigv4_headers("POST", url, payload,
                                                               {"X-Amz-Invocation-Type": "Event"}))
        with urllib.request.urlopen(request, timeout=30) as response:
            return int(response.status)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``condition`` until it holds or ``timeout`` passes; the caller asserts what it needs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not condition():
        time.sleep(0.05)


def start_serve(args: Sequence[str], tmp_path: Path, env: Optional[dict[str, str]] = None) -> Served:
    port, http_port = free_ports(2)
    log = tmp_path / f"serve-{port}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "lamina", "serve", "--port", str(port), "--http", str(http_port),
             "--data-dir", str(tmp_path / "data"), *args],
            cwd=tmp_path, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            env={**os.environ, **(env or {})})
    try:
        wait_for_port(http_port, timeout=30, proc=proc)
        wait_for_port(port, timeout=30, proc=proc)
    except Exception:
        stop_process(proc)
        raise AssertionError(log.read_text()) from None
    return Served(proc, port, http_port, log)


@contextlib.contextmanager
def serving(args: Sequence[str], tmp_path: Path, env: Optional[dict[str, str]] = None) -> Iterator[Served]:
    served = start_serve(args, tmp_path, env)
    try:
        yield served
    finally:
        stop_process(served.proc, timeout=15)


def _bundled_asgi_app(tmp_path: Path) -> Path:
    """asgi_app.py with mangum beside it, as a function's zip bundles it (the runtime sees only the
    function's packages)."""
    import mangum
    import typing_extensions

    code = tmp_path / "code"
    code.mkdir()
    shutil.copy(HERE / "asgi_app.py", code / "asgi_app.py")
    (code / "mangum").symlink_to(Path(mangum.__file__).parent, target_is_directory=True)
    (code / "typing_extensions.py").symlink_to(typing_extensions.__file__)
    return code


def test_asgi_app_behind_mangum_answers_through_lamina_serve_http(tmp_path: Path) -> None:
    code = _bundled_asgi_app(tmp_path)
    args = ["--code", str(code), "--handler", "asgi_app.handler", "--no-watch", "--timeout", "30"]
    with serving(args, tmp_path) as served:
        status, headers, body = served.http("/items/7?x=1&x=2", "POST", b"payload",
                                            {"Cookie": "s=1", "Content-Type": "text/plain"})
        assert status == 200, served.log.read_text()
        answer = json.loads(body)
        assert answer["method"] == "POST" and answer["path"] == "/items/7" and answer["query"] == "x=1&x=2"
        assert answer["cookie"] == "s=1"
        assert headers["x-app"] == "asgi"
        status, _, body = served.http("/binary")
        assert status == 200 and body == bytes(range(256))
        status, _, _ = served.http("/missing")
        assert status == 404


def test_function_error_through_lamina_serve_http_is_502(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    raise ValueError('boom')\n")
    with serving(["--code", str(code), "--handler", "app.handler", "--no-watch"], tmp_path) as served:
        status, _, body = served.http("/anything")
    assert status == 502 and json.loads(body) == {"message": "Internal Server Error"}


def test_documented_sam_template_runs(tmp_path: Path) -> None:
    template = ROOT / "examples" / "sam-app" / "template.yaml"
    with serving(["--template", str(template), "--no-watch"], tmp_path) as served:
        status, _, body = served.http("/items/42")
        assert status == 200, served.log.read_text()
        assert json.loads(body) == {"id": "42", "message": "Hello, 42!", "stage": "local",
                                    "table": "ItemsTable"}
        status, _, body = served.http("/items/42", "PUT", b'{"n": 1}', {"Content-Type": "application/json"})
        assert status == 201 and json.loads(body) == {"id": "42", "saved": {"n": 1}}
        status, headers, body = served.http("/legacy/a/b")
        assert status == 200 and headers["x-legacy"] == "yes"
        assert json.loads(body) == {"resource": "/legacy/{proxy+}", "proxy": "a/b", "method": "GET"}
        assert served.http("/nope")[0] == 404
    assert "AWS::DynamoDB::Table is not supported" in served.log.read_text()


def test_editing_a_handler_file_changes_the_next_response_without_restart(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    handler = code / "app.py"
    handler.write_text("def handler(event, context):\n    return {'version': 1}\n")
    with serving(["--code", str(code), "--handler", "app.handler"], tmp_path) as served:
        assert json.loads(served.http("/")[2]) == {"version": 1}
        handler.write_text("def handler(event, context):\n    return {'version': 2}\n")
        answer = served.json_until("/", lambda answer: answer == {"version": 2})
        assert answer == {"version": 2}, served.log.read_text()
        assert served.proc.poll() is None  # the same server, not a restart


RECORDER = textwrap.dedent("""
    import os, socket, time

    def serve_is_gone():
        host, _, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rpartition(":")
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return False
        except OSError:
            return True

    def handler(event, context):
        with open(os.environ["PIDS"], "a") as pids:
            pids.write(f"{os.getpid()}\\n")
        # Hangs while the block file exists. An environment whose lamina serve was killed exits
        # instead of finishing the event, as a Lambda environment never outlives its service.
        while os.path.exists(os.environ["BLOCK"]):
            if serve_is_gone():
                os._exit(1)
            time.sleep(0.05)
        with open(os.environ["OUT"], "a") as out:
            out.write(f"{event['n']}\\n")
            out.flush()
            os.fsync(out.fileno())
        return None
""")



def wait_for_exit(pids: list[int], timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    for pid in pids:
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.02)
        else:
            os.kill(pid, signal.SIGKILL)
            raise AssertionError(f"environment {pid} outlived its lamina serve")


def test_kill_9_of_lamina_serve_with_100_queued_events_loses_none(tmp_path: Path) -> None:
    code, out, block, pids = tmp_path / "code", tmp_path / "ran.txt", tmp_path / "block", tmp_path / "pids"
    code.mkdir()
    (code / "app.py").write_text(RECORDER)
    block.touch()
    # not named "function": that name's path is AWS's emulator's, which runs Event invocations synchronously
    args = ["--code", str(code), "--handler", "app.handler", "--name", "recorder", "--no-watch",
            "--timeout", "60",
            "--concurrency", "2", "--env", f"OUT={out}", "--env", f"BLOCK={block}", "--env", f"PIDS={pids}"]
    served = start_serve(args, tmp_path)
    try:
        assert all(served.event("recorder", json.dumps({"n": n}).encode()) == 202 for n in range(100))
        os.killpg(served.proc.pid, signal.SIGKILL)
        served.proc.wait(10)
    finally:
        stop_process(served.proc)
    assert not out.exists()
    wait_for_exit([int(pid) for pid in pids.read_text().split()])  # the killed serve's environments
    block.unlink()
    with serving(args, tmp_path) as restarted:
        wait_until(lambda: out.exists() and len(out.read_text().split()) >= 100, timeout=60)
        time.sleep(0.3)  # a duplicate would show up now
        log = restarted.log.read_text()
    counts = collections.Counter(int(line) for line in out.read_text().split())
    assert sorted(counts) == list(range(100)), log
    assert set(counts.values()) == {1}


def test_failing_event_through_lamina_serve_writes_an_on_failure_record(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    raise RuntimeError('always')\n")
    failures = tmp_path / "failures.jsonl"
    (tmp_path / "lamina.toml").write_text(textwrap.dedent("""
        [functions.failing]
        code = "code"
        handler = "app.handler"
        maximum_retry_attempts = 1
        on_failure = "failures.jsonl"   # relative to the project file
    """))
    env = {"LAMINA_ASYNC_RETRY_DELAYS": "0.05,0.05"}
    with serving(["--no-watch"], tmp_path, env=env) as served:
        assert served.event("failing", b'{"order": 7}') == 202
        wait_until(failures.exists)
    record = json.loads(failures.read_text())
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2
    assert record["requestContext"]["functionArn"] == \
        "arn:aws:lambda:us-east-1:123456789012:function:failing:$LATEST"
    assert record["requestPayload"] == {"order": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "RuntimeError"


def test_invalid_project_route_is_a_usage_error(tmp_path: Path) -> None:
    (tmp_path / "lamina.toml").write_text(textwrap.dedent("""
        [functions.api]
        handler = "app.handler"
        routes = ["GET /items/{proxy+}/more"]
    """))
    out = subprocess.run([sys.executable, "-m", "lamina", "serve", "--port", str(free_port()), "--http",
                          str(free_port()), "--data-dir", str(tmp_path / "data"), "--no-watch"],
                         cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2
    assert "Invalid route key" in out.stderr and "greedy" in out.stderr


def test_boto3_event_invocation_runs_from_the_durable_queue_with_its_request_id(tmp_path: Path) -> None:
    code, out = tmp_path / "code", tmp_path / "ran.txt"
    code.mkdir()
    (code / "app.py").write_text(textwrap.dedent(f"""
        def handler(event, context):
            with open({str(out)!r}, "a") as f:
                f.write(event["id"] + " " + context.aws_request_id + "\\n")
    """))
    args = ["--code", str(code), "--handler", "app.handler", "--name", "writer", "--no-watch"]
    with serving(args, tmp_path) as served:
        client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{served.port}",
                              region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x",
                              config=Config(retries={"max_attempts": 1}))
        response = client.invoke(FunctionName="writer", InvocationType="Event", Payload=b'{"id": "e1"}')
        assert response["StatusCode"] == 202
        request_id = response["ResponseMetadata"]["RequestId"]
        wait_until(out.exists)
    assert out.read_text() == f"e1 {request_id}\n"  # the id the 202 announced

    with contextlib.closing(sqlite3.connect(tmp_path / "data" / "async" / "events.sqlite3")) as db:
        row = db.execute("SELECT state FROM events WHERE request_id = ?", (request_id,)).fetchone()
    assert row == ("done",)


def test_editing_the_sam_template_reloads_functions_and_routes(tmp_path: Path) -> None:
    app = tmp_path / "app"
    shutil.copytree(ROOT / "examples" / "sam-app", app)
    template = app / "template.yaml"
    with serving(["--template", str(template)], tmp_path) as served:
        assert json.loads(served.http("/items/1")[2])["stage"] == "local"
        text = template.read_text().replace("Default: local", "Default: edited")
        template.write_text(text.replace("Path: /items/{id}\n            Method: get",
                                         "Path: /things/{id}\n            Method: get"))
        answer = served.json_until("/things/1", lambda answer: answer["stage"] == "edited")
        assert answer is not None and answer["stage"] == "edited", served.log.read_text()
        assert served.http("/items/1")[0] == 404  # GET /items/{id} is gone; PUT stays
        assert served.http("/items/1", "PUT", b"{}")[0] == 201


HOLDING_HANDLER = textwrap.dedent("""
    import os, time

    def handler(event, context):
        if (event.get("queryStringParameters") or {}).get("hold"):
            open(os.environ["STARTED"], "w").close()
            while not os.path.exists(os.environ["RELEASE"]):
                time.sleep(0.02)
        return {"version": VERSION}

    VERSION = 1
""")


def test_invocation_in_flight_during_a_reload_finishes_on_the_old_code(tmp_path: Path) -> None:
    code, started, release = tmp_path / "code", tmp_path / "started", tmp_path / "release"
    code.mkdir()
    handler = code / "app.py"
    handler.write_text(HOLDING_HANDLER)
    args = ["--code", str(code), "--handler", "app.handler", "--concurrency", "3",
            "--timeout", "60", "--env", f"STARTED={started}", "--env", f"RELEASE={release}"]
    with serving(args, tmp_path) as served, ThreadPoolExecutor(1) as pool:
        held = pool.submit(served.http, "/?hold=1")
        wait_until(started.exists, timeout=20)
        handler.write_text(HOLDING_HANDLER.replace("VERSION = 1", "VERSION = 2"))
        assert served.json_until("/", lambda answer: answer == {"version": 2}) == {"version": 2}
        assert not held.done()  # the reload did not cut it short
        release.touch()
        status, _, body = held.result(timeout=30)
    assert status == 200 and json.loads(body) == {"version": 1}


def test_http_format_url_sends_function_url_events(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return event\n")
    args = ["--code", str(code), "--handler", "app.handler", "--no-watch", "--http-format", "url"]
    with serving(args, tmp_path) as served:
        status, _, body = served.http("/a/b?x=1")
    event = json.loads(body)
    assert status == 200 and event["version"] == "2.0" and event["routeKey"] == "$default"
    assert event["rawPath"] == "/a/b" and event["queryStringParameters"] == {"x": "1"}
    assert "pathParameters" not in event and event["requestContext"]["accountId"] == "anonymous"


def test_streaming_function_through_lamina_serve_http_answers_as_a_function_url(tmp_path: Path) -> None:
    code = ROOT / "tests" / "runtime" / "functions"
    with serving(["--code", str(code), "--handler", "streams.http", "--no-watch"], tmp_path) as served:
        status, headers, body = served.http("/page")
    assert status == 201, served.log.read_text()
    assert headers["content-type"] == "text/html" and headers["set-cookie"] == "a=b"
    assert body == b"<h1>hi</h1>"


FLAGS_TEMPLATE = textwrap.dedent("""
    Transform: AWS::Serverless-2016-10-31
    Resources:
      Probe:
        Type: AWS::Serverless::Function
        Properties:
          CodeUri: .
          Handler: probe.handler
          Runtime: python3.12
          Environment:
            Variables:
              STAGE: {stage}
          Events:
            Get:
              Type: HttpApi
              Properties:
                Path: /probe
                Method: get
""")


def test_template_reload_keeps_the_serve_flags(tmp_path: Path) -> None:
    app = tmp_path / "app"
    app.mkdir()
    (app / "probe.py").write_text(textwrap.dedent("""
        import os

        def handler(event, context):
            return {"STAGE": os.environ["STAGE"], "type": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"],
                    "over_3_s": context.get_remaining_time_in_millis() > 3000}
    """))
    template = app / "template.yaml"
    template.write_text(FLAGS_TEMPLATE.format(stage="one"))
    with serving(["--template", str(template), "--snapstart", "--timeout", "7"], tmp_path) as served:
        expected = {"type": "snap-start", "over_3_s": True}  # --snapstart and --timeout 7
        assert json.loads(served.http("/probe")[2]) == {"STAGE": "one", **expected}, served.log.read_text()
        template.write_text(FLAGS_TEMPLATE.format(stage="two"))
        answer = served.json_until("/probe", lambda answer: answer["STAGE"] == "two")
        assert answer == {"STAGE": "two", **expected}, served.log.read_text()
