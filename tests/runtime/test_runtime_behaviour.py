"""lamina.runtime's own behaviour, against a scriptable Runtime API: error paths, async, signals, hooks."""

from __future__ import annotations

import collections
import decimal
import json
import os
import signal
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace
from typing import List, Optional

import pytest

from tests.runtime.runtime_process import ROOT, start
from tests.runtime.stub_api import Post, StubRuntimeAPI

FUNCTIONS = Path(__file__).parent / "functions"


def test_handler_comes_from_env_when_no_argument_is_given(api, runtimes) -> None:
    api.enqueue(b'{"x": 1}')
    start(runtimes, api, None, env={"_HANDLER": "app.echo"})
    [post] = api.wait_posts(1)
    assert post.path.endswith("/response")
    assert post.body == b'{"x": 1}'


def test_missing_handler_is_reported_as_init_error_and_exits(api, runtimes) -> None:
    runtime = start(runtimes, api, None)
    [post] = api.wait_posts(1)
    assert post.path.endswith("/runtime/init/error")
    assert json.loads(post.body)["errorType"] == "Runtime.MalformedHandlerName"
    assert runtime.finish()[0] == 1


def test_async_handler_keeps_one_event_loop_across_invocations(api, runtimes) -> None:
    for n in range(3):
        api.enqueue(json.dumps({"n": n}).encode())
    start(runtimes, api, "behaviour.async_handler")
    posts = api.wait_posts(3)
    bodies = [json.loads(p.body) for p in posts]
    assert [b["count"] for b in bodies] == [1, 2, 3]
    assert all(b["same_loop"] for b in bodies)
    assert [b["item"] for b in bodies] == [{"n": 0}, {"n": 1}, {"n": 2}]


def test_async_handler_error_has_only_user_frames(api, runtimes) -> None:
    api.enqueue()
    start(runtimes, api, "behaviour.async_raise")
    [post] = api.wait_posts(1)
    error = json.loads(post.body)
    assert (error["errorType"], error["errorMessage"]) == ("ValueError", "async bad")
    assert len(error["stackTrace"]) == 1 and "behaviour.py" in error["stackTrace"][0]


def test_sigterm_while_waiting_for_an_invocation_exits_cleanly(api, runtimes) -> None:
    runtime = start(runtimes, api, "app.echo")
    deadline = time.monotonic() + 10
    while api.polls == 0 and time.monotonic() < deadline:
        time.sleep(0.02)
    runtime.proc.send_signal(signal.SIGTERM)
    assert runtime.finish()[0] == 0


def test_sigterm_during_an_invocation_posts_the_result_before_exiting(api, runtimes, tmp_path) -> None:
    marker = tmp_path / "running"
    api.enqueue(json.dumps({"seconds": 0.5, "marker": str(marker)}).encode())
    runtime = start(runtimes, api, "behaviour.slow")
    deadline = time.monotonic() + 10
    while not marker.exists() and time.monotonic() < deadline:
        time.sleep(0.01)
    runtime.proc.send_signal(signal.SIGTERM)
    [post] = api.wait_posts(1)
    assert post.body == b'{"slept": true}'
    assert runtime.finish()[0] == 0


def test_handler_closing_stdout_still_gets_its_error_reported(api, runtimes) -> None:
    api.enqueue()
    api.enqueue(b'{"after": true}')
    runtime = start(runtimes, api, "behaviour.close_stdout")
    posts = api.wait_posts(2)
    assert json.loads(posts[0].body)["errorMessage"] == "stdout is gone"
    runtime.stop()


def test_huge_output_does_not_lose_the_result(api, runtimes) -> None:
    api.enqueue()
    runtime = start(runtimes, api, "behaviour.huge_print")
    [post] = api.wait_posts(1, timeout=20)
    assert post.body == b'{"printed": true}'
    runtime.stop()


def test_trace_id_is_set_per_invocation_and_cleared_when_absent(api, runtimes) -> None:
    api.enqueue(headers={"Lambda-Runtime-Trace-Id": "Root=1-abc;Parent=def;Sampled=1"})
    api.enqueue()
    start(runtimes, api, "behaviour.trace")
    posts = api.wait_posts(2)
    assert [p.body for p in posts] == [b'"Root=1-abc;Parent=def;Sampled=1"', b"null"]


def test_invocation_id_is_echoed_on_the_response(api, runtimes) -> None:
    api.enqueue(headers={"Lambda-Runtime-Invocation-Id": "inv-1"})
    start(runtimes, api, "app.echo")
    [post] = api.wait_posts(1)
    assert post.headers["lambda-runtime-invocation-id"] == "inv-1"


def test_non_json_content_type_gives_the_handler_raw_bytes(api, runtimes) -> None:
    api.enqueue(b"\x00raw", headers={"Content-Type": "application/octet-stream"})
    api.enqueue(b'{"a": 1}', headers={"Content-Type": "application/json; charset=utf-8"})
    start(runtimes, api, "app.echo")
    posts = api.wait_posts(2)
    # bytes come back out as bytes: application/unknown, exactly as awslambdaric does
    assert [(p.body, p.headers["content-type"]) for p in posts] == [
        (b"\x00raw", "application/unknown"), (b'{"a": 1}', "application/unknown")]


def test_next_answering_an_error_status_ends_with_one_clear_line(api, runtimes) -> None:
    api.next_status = 500
    api.enqueue()
    runtime = start(runtimes, api, "app.echo")
    code, _, err = runtime.finish()
    assert code == 1
    last_line = err.strip().splitlines()[-1]
    assert last_line.startswith("lamina.runtime: LAMBDA_RUNTIME Failed to get next invocation")
    assert "Traceback" not in err


def test_runtime_api_dropping_the_connection_ends_with_one_clear_line(api, runtimes) -> None:
    api.drop_next = True
    api.enqueue()
    runtime = start(runtimes, api, "app.echo")
    code, _, err = runtime.finish()
    assert code == 1
    assert "connection closed by the Runtime API" in err and "Traceback" not in err


def test_unreachable_runtime_api_ends_with_one_clear_line(runtimes) -> None:
    # A port bound but not listening refuses connections, and no other process can take it meanwhile
    # (a closed server's port could be given to another test's server before the runtime connects).
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        dead = SimpleNamespace(address=f"127.0.0.1:{held.getsockname()[1]}")
        runtime = start(runtimes, dead, "app.echo")  # type: ignore[arg-type]
        code, _, err = runtime.finish()
    assert code == 1 and "connection failed" in err and "Traceback" not in err


def test_refused_result_is_reported_and_the_runtime_exits(api, runtimes) -> None:
    api.post_status = 413
    api.enqueue()
    runtime = start(runtimes, api, "app.echo")
    code, out, err = runtime.finish()
    assert code == 1
    assert "Failed to post handler success response. Http response code: 413." in out
    assert "Failed to post invocation response" in err


def _read_frames(data: bytes) -> List[tuple]:  # type: ignore[type-arg]
    frames, offset = [], 0
    while offset < len(data):
        frame_type, length, _timestamp = struct.unpack(">IIQ", data[offset:offset + 16])
        frames.append((frame_type, data[offset + 16:offset + 16 + length].decode()))
        offset += 16 + length
    return frames


def test_telemetry_fd_gets_framed_json_records_by_level(api, runtimes) -> None:
    read_fd, write_fd = os.pipe()
    api.enqueue()
    runtime = start(runtimes, api, "app.log_everything", pass_fds=(write_fd,), env={
        "_LAMBDA_TELEMETRY_LOG_FD": str(write_fd), "AWS_LAMBDA_LOG_FORMAT": "JSON",
        "AWS_LAMBDA_LOG_LEVEL": "DEBUG"})
    os.close(write_fd)
    api.wait_posts(1)
    runtime.stop()
    with os.fdopen(read_fd, "rb") as pipe:
        frames = _read_frames(pipe.read())
    types = [t for t, _ in frames]
    assert types[:3] == [0xA55A000A, 0xA55A000E, 0xA55A0012]
    records = [json.loads(m) for t, m in frames if t != 0xA55A0003]
    assert records[1]["message"] == "info line" and records[1]["requestId"]
    assert (0xA55A0003, "context log line\n") in frames  # context.log: raw text, the plain frame type
    assert any(r.get("errorType") == "ValueError" for r in records)


def test_snapstart_hooks_run_in_documented_order_around_restore(api, runtimes, tmp_path) -> None:
    order = tmp_path / "order"
    api.enqueue()
    start(runtimes, api, "hooks.h", env={"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
                                         "HOOK_ORDER_FILE": str(order)})
    posts = api.wait_posts(2)
    assert posts[0].path.endswith("/runtime/restore/next")
    assert posts[1].path.endswith("/response")
    assert order.read_text().split() == ["b2", "b1", "a1", "a2", "invoke"]


def test_failing_before_snapshot_hook_is_an_init_error_with_exit_64(api, runtimes, tmp_path) -> None:
    runtime = start(runtimes, api, "hooks.h", env={"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
                                                   "HOOK_ORDER_FILE": str(tmp_path / "o"), "HOOK_FAIL": "b1"})
    [post] = api.wait_posts(1)
    assert post.path.endswith("/runtime/init/error")
    assert post.headers["lambda-runtime-function-error-type"] == "Runtime.BeforeSnapshotError"
    assert json.loads(post.body)["errorType"] == "RuntimeError"
    assert runtime.finish()[0] == 64


def test_failing_after_restore_hook_goes_to_restore_error_with_exit_65(api, runtimes, tmp_path) -> None:
    runtime = start(runtimes, api, "hooks.h", env={"AWS_LAMBDA_INITIALIZATION_TYPE": "snap-start",
                                                   "HOOK_ORDER_FILE": str(tmp_path / "o"), "HOOK_FAIL": "a2"})
    posts = api.wait_posts(2)
    assert posts[1].path.endswith("/runtime/restore/error")
    assert posts[1].headers["lambda-runtime-function-error-type"] == "Runtime.AfterRestoreError"
    assert runtime.finish()[0] == 65


def test_runtime_loads_only_the_standard_library() -> None:
    code = (
        "import sys; before = set(sys.modules);"
        "import lamina.runtime.loop, lamina.runtime.concurrency, lamina.runtime.json_compat,"
        " lamina.runtime.logging_setup, lamina.runtime.snapstart;"
        "new = {m.split('.')[0] for m in set(sys.modules) - before};"
        "print(sorted(n for n in new if n not in sys.stdlib_module_names and n != 'lamina'))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "src")})
    assert out.stdout.strip() == "[]"


def test_runtime_start_up_does_not_import_http_client_logging_or_contextvars(api, runtimes) -> None:
    api.enqueue()
    code = ("import runpy, sys, atexit;"
            "atexit.register(lambda: print(sorted(m for m in ('http.client', 'logging', 'email', 'ssl',"
            " 'contextvars') if m in sys.modules), file=sys.stderr));"
            "sys.argv = ['lamina.runtime', 'lean.h'];"
            "runpy.run_module('lamina.runtime', run_name='__main__')")
    environment = {**os.environ, "AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=FUNCTIONS, env=environment,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        api.wait_posts(1)
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert err.decode().strip().splitlines()[-1] == "[]"


def _find_python(version: str) -> Optional[str]:
    import glob
    import shutil

    # pyenv's own interpreters before PATH, whose python3.X may be a pyenv shim that resolves to another
    # version (or fails) once the test strips PYENV_* from the environment.
    candidates: List[Optional[str]] = sorted(
        glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    candidates.append(shutil.which(f"python{version}"))
    for candidate in candidates:
        if candidate and subprocess.run([candidate, "-c", "pass"], capture_output=True).returncode == 0:
            return candidate
    return None


def _posts_of_runtime_on(interpreter: str, handler: str, api: StubRuntimeAPI, count: int) -> List[Post]:
    """Run lamina's runtime on ``interpreter`` (only the checkout's src on its path) until ``count`` posts."""
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER", "PYENV"))}
    environment.update({"AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT / "src")})
    proc = subprocess.Popen([interpreter, "-m", "lamina.runtime", handler], cwd=FUNCTIONS,
                            env=environment, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        return api.wait_posts(count)
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"])
def test_runtime_runs_on_every_supported_python(api, version: str) -> None:
    interpreter = _find_python(version)
    if interpreter is None:
        pytest.skip(f"python{version} is not installed here")
    api.enqueue(b'{"k": "v"}')
    api.enqueue(b"{}")
    posts = _posts_of_runtime_on(interpreter, "versions.h", api, 2)
    assert json.loads(posts[0].body) == {"event": {"k": "v"}, "python": version}
    assert json.loads(posts[1].body)["errorType"] == "KeyError"


@pytest.mark.parametrize("version", ["3.9", "3.10", "3.11", "3.12", "3.13", "3.14"])
def test_large_events_are_marshalled_as_awslambdaric_does_on_every_python(api, version: str) -> None:
    import simplejson

    interpreter = _find_python(version)
    if interpreter is None:
        pytest.skip(f"python{version} is not installed here")
    event = {"records": [{"id": n, "name": f"item-{n}", "tags": ["a", "b"], "ok": True} for n in range(8000)]}
    body = json.dumps(event).encode()  # above the size at which decoding pauses the collector
    for _ in range(3):
        api.enqueue(body)
    posts = _posts_of_runtime_on(interpreter, "versions.marshalled", api, 3)
    point = collections.namedtuple("Point", "x y")
    event["records"][-1]["tags"].append([point(1, [decimal.Decimal("2.50")])])
    event["leaves"] = ["red", decimal.Decimal("1.10"), "raw", float("nan")]
    reference = simplejson.JSONEncoder(use_decimal=False, allow_nan=True,
                                       default=lambda o: simplejson.RawJSON(str(o)))
    assert [post.body.decode() for post in posts] == [reference.encode(event)] * 3


def test_results_are_encoded_as_awslambdaric_encodes_them_on_every_path() -> None:
    # Unit-level: the fast C path and the exact walk must agree with simplejson (awslambdaric's encoder).
    import collections
    import decimal

    import simplejson

    from lamina.runtime.marshalling import Marshaller

    point = collections.namedtuple("point", "x y")
    reference = simplejson.JSONEncoder(use_decimal=False, allow_nan=True,
                                       default=lambda o: simplejson.RawJSON(str(o)))
    cases = [
        {"plain": [1, 2.5, "s", None, True], "nested": {"a": {"b": [[]]}}},
        {"tuple": (1, 2), "deep": [[[(3, 4)]]]},
        {"point": point(1, 2), "points": [point(3, point(4, 5))]},
        {"bytes": b"ok", "list": [b"x"]},
        {b"key": 1},
        {"d": decimal.Decimal("1.10"), "deep": [{"d": decimal.Decimal("-0.000")}]},
        [point(1, [decimal.Decimal("2.50")])],
        {"\u00a3": "\u2603 \U0001f600", 1: "int", 2.5: "float", None: "none"},
    ]
    marshaller = Marshaller({})
    import gc

    gc.collect()  # the scan for tuple subclasses follows tracked objects: collection must not hide any
    for case in cases:
        assert marshaller.to_json(case) == reference.encode(case), case
