"""Faults and bad input: each gets Lambda's answer, the server keeps serving, nothing is left behind."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lamina.local.invoke.service import LocalLambda
from lamina.local.lifecycle.states import Kind
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.service_errors import ServiceError
from tests.local.local_helpers import FUNCTIONS, RUNTIMES, alive, lamina_serve, post, serve_handler, wait_gone


def _wait_for(predicate, timeout: float = 10.0) -> bool:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_timeout_kills_environment_and_reports_sandbox_timedout(tmp_path: Path) -> None:
    with serve_handler("handlers.sleep", tmp_path, "--timeout", "1") as server:
        result = server.invoke(b'{"seconds": 30}')
        request_id = result.headers["x-amzn-RequestId"]
        assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body) == {
            "errorType": "Sandbox.Timedout",
            "errorMessage": f"RequestId: {request_id} Error: Task timed out after 1.00 seconds"}
        assert _wait_for(lambda: server.runtime_pids() == [])
        again = server.invoke(b'{"seconds": 0}')
        assert again.status == 200 and "X-Amz-Function-Error" not in again.headers
        logs = server.logs()
        assert f"{request_id} Task timed out after 1.00 seconds" in logs
        assert "Status: timeout" in logs
        assert logs.count("Init Duration: ") == 2  # the next invocation was a cold start


def test_runtime_killed_mid_invocation_reports_exit_error_signal_killed(tmp_path: Path) -> None:
    with serve_handler("handlers.sleep", tmp_path, "--timeout", "30") as server:
        with ThreadPoolExecutor(1) as pool:
            pending = pool.submit(server.invoke, b'{"seconds": 20}')
            assert _wait_for(lambda: len(server.runtime_pids()) == 1)
            os.kill(server.runtime_pids()[0], signal.SIGKILL)
            result = pending.result(timeout=20)
        request_id = result.headers["x-amzn-RequestId"]
        assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body) == {
            "errorType": "Runtime.ExitError",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"}
        assert server.invoke(b'{"seconds": 0}').status == 200
        assert "Status: error\tError Type: Runtime.ExitError" in server.logs()


def test_runtime_exiting_with_a_status_reports_it(tmp_path: Path) -> None:
    with serve_handler("handlers.crash", tmp_path) as server:
        result = server.invoke(b'{"code": 7}')
        assert result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body)["errorMessage"].endswith("Runtime exited with error: exit status 7")


def test_runtime_exiting_between_invocations_gets_a_fresh_environment(tmp_path: Path) -> None:
    code = tmp_path / "code"
    code.mkdir()
    bootstrap = code / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\n[ "$#" -eq 0 ] || exit 9\nexec "{sys.executable}" '
                         f'"{RUNTIMES / "one_shot.py"}"\n')
    bootstrap.chmod(0o755)
    with lamina_serve(["--code", str(code), "--handler", "ignored.handler"], tmp_path) as server:
        pids = []
        for _ in range(3):  # back to back: the previous environment may still be on its way out
            result = server.invoke(b"{}")
            assert result.status == 200 and "X-Amz-Function-Error" not in result.headers, result.body
            pids.append(json.loads(result.body)["pid"])
        assert len(set(pids)) == 3
        assert wait_gone(pids[-1])
        assert server.invoke(b"{}").status == 200


def test_a_poll_whose_connection_closed_leaves_no_trace_and_the_next_poll_is_served(tmp_path: Path) -> None:
    # A parked ``next`` that its runtime gave up (closed the connection) no longer counts as the
    # environment's poll: the runtime's new ``next`` is not refused as a second concurrent one, and
    # the invocation goes to it, not to the closed connection.
    code = tmp_path / "code"
    code.mkdir()
    bootstrap = code / "bootstrap"
    bootstrap.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{RUNTIMES / "drops_first_poll.py"}"\n')
    bootstrap.chmod(0o755)
    with lamina_serve(["--code", str(code), "--handler", "ignored.handler", "--eager"], tmp_path) as server:
        time.sleep(0.8)  # the first poll was parked, then dropped
        for polls in (2, 3):
            result = server.invoke(b"{}")
            assert result.status == 200 and "X-Amz-Function-Error" not in result.headers, result.body
            assert json.loads(result.body) == {"polls": polls}
        logs = server.logs()
        assert "next refused" not in logs and logs.count("INIT_START") == 1, logs  # one environment


def test_init_failure_reports_the_runtimes_init_error_on_every_invocation(tmp_path: Path) -> None:
    with serve_handler("broken_import.handler", tmp_path) as server:
        for _ in range(2):
            result = server.invoke(b"{}")
            assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
            document = json.loads(result.body)
            assert (document["errorType"], document["errorMessage"]) == ("RuntimeError", "broken at import")
        assert _wait_for(lambda: server.runtime_pids() == [])
        # awslambdaric names the error "RuntimeError", which is not Lambda's pattern: Runtime.Unknown
        assert server.logs().count("Status: error\tError Type: Runtime.Unknown") == 4  # INIT_REPORT, REPORT
        assert server.logs().count("Phase: init\tStatus: error\tError Type: Runtime.Unknown") == 2


def test_runtime_that_never_polls_next_times_out_after_init_timeout_and_function_timeout() -> None:
    async def scenario() -> tuple[Kind, bytes, list[int]]:
        config = FunctionConfig(name="stuck", code_dir=RUNTIMES, bootstrap=(sys.executable, "never_polls.py"),
                                timeout=0.5, init_timeout=0.3)
        async with LocalLambda() as local:
            local.registry.put(config)
            result = await local.invoke("stuck", b"{}")
            pool = local.pool("stuck")
            assert pool is not None
            pids = [env.process.pid for env in pool.environments if env.process.pid is not None]
        return result.kind, result.payload, pids

    kind, payload, pids = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert kind is Kind.TIMEOUT
    assert json.loads(payload)["errorMessage"].endswith("Task timed out after 0.50 seconds")
    assert all(wait_gone(pid) for pid in pids)


def test_runtime_posting_wrong_ids_and_garbage_gets_runtime_api_errors_and_invocations_still_answer(
        tmp_path: Path) -> None:
    bootstrap = f"{sys.executable} {RUNTIMES / 'garbage.py'}"
    args = ["--code", str(RUNTIMES), "--handler", "x.y", "--bootstrap", bootstrap]
    with lamina_serve(args, tmp_path) as server:
        first = json.loads(server.invoke(b"{}").body)
        invalid = '{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}\n'
        assert first["wrong_id"] == [400, invalid]
        assert first["unknown_path"] == [404, "404 page not found\n"]
        second = json.loads(server.invoke(b"{}").body)
        assert second["repeat_previous"][0] == 400  # the previous invocation is over: its id is stale
        garbage = server.invoke(b'{"garbage": true}')
        assert garbage.status == 200 and garbage.body == b"\x00not json{"


def test_client_disconnecting_mid_invocation_leaves_the_server_serving(tmp_path: Path) -> None:
    with serve_handler("handlers.sleep", tmp_path) as server:
        body = b'{"seconds": 0.5}'
        with socket.create_connection(("127.0.0.1", server.port)) as sock:
            sock.sendall(b"POST /2015-03-31/functions/function/invocations HTTP/1.1\r\nHost: 127.0.0.1:%d\r\n"
                         b"Content-Length: %d\r\n\r\n%s" % (server.port, len(body), body))
            time.sleep(0.1)
        result = server.invoke(b'{"seconds": 0}')
        assert result.status == 200
        # the abandoned invocation still ran to its end, as on Lambda
        assert _wait_for(lambda: server.logs().count("REPORT RequestId") == 2)


def test_memory_above_the_configured_size_kills_the_environment_as_out_of_memory(tmp_path: Path) -> None:
    with serve_handler("handlers.hog", tmp_path, "--memory", "64", "--timeout", "20") as server:
        result = server.invoke(b'{"mb": 256}')
        request_id = result.headers["x-amzn-RequestId"]
        assert result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body) == {
            "errorType": "Runtime.OutOfMemory",
            "errorMessage": f"RequestId: {request_id} Error: Runtime exited with error: signal: killed"}
        assert "Max Memory Used: 64 MB" in server.logs()
        small = server.invoke(b'{"mb": 1}', timeout=30)
        assert small.status == 200 and "X-Amz-Function-Error" not in small.headers


def test_processes_a_handler_started_are_killed_with_its_environment(tmp_path: Path) -> None:
    with serve_handler("handlers.spawn_child", tmp_path) as server:
        child = json.loads(server.invoke(b"{}").body)["child"]
        assert alive(child)
    assert wait_gone(child)


def test_200_concurrent_invocations_are_served_or_throttled_and_the_server_keeps_serving(
        tmp_path: Path) -> None:
    with serve_handler("handlers.sleep", tmp_path, "--concurrency", "2") as server:
        with ThreadPoolExecutor(200) as pool:
            results = list(pool.map(lambda _: server.invoke(b'{"seconds": 0.2}', timeout=60), range(200)))
        statuses = [r.status for r in results]
        assert set(statuses) <= {200, 429}
        assert 429 in statuses and statuses.count(200) >= 2
        throttled = next(r for r in results if r.status == 429)
        assert throttled.headers["X-Amzn-ErrorType"] == "TooManyRequestsException"
        assert throttled.headers["Retry-After"]
        assert json.loads(throttled.body)["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
        assert all("X-Amz-Function-Error" not in r.headers for r in results if r.status == 200)
        assert len(server.runtime_pids()) <= 2
        assert server.invoke(b'{"seconds": 0}').status == 200


def test_idle_environments_are_stopped_after_the_idle_timeout() -> None:
    async def scenario() -> int:
        config = FunctionConfig(name="idle", code_dir=FUNCTIONS, handler="handlers.pid",
                                bootstrap=(sys.executable, "-m", "awslambdaric"), idle_timeout=0.2)
        async with LocalLambda() as local:
            local.registry.put(config)
            pid = json.loads((await local.invoke("idle", b"{}")).payload)
            pool = local.pool("idle")
            assert pool is not None
            for _ in range(100):
                if not pool.environments:
                    break
                await asyncio.sleep(0.1)
            assert not pool.environments
        return int(pid)

    pid = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert wait_gone(pid)


def test_updating_a_function_recycles_its_environments_and_removing_it_stops_them() -> None:
    async def scenario() -> tuple[int, int, str]:
        config = FunctionConfig(name="f", code_dir=FUNCTIONS, handler="handlers.pid",
                                bootstrap=(sys.executable, "-m", "awslambdaric"))
        async with LocalLambda() as local:
            local.registry.put(config)
            first = json.loads((await local.invoke("f", b"{}")).payload)
            local.registry.put(config.with_changes(handler="handlers.context_info",
                                                   environment={"GREETING": "new"}))
            info = json.loads((await local.invoke("f", b"{}")).payload)
            local.registry.remove("f")
            try:
                await local.invoke("f", b"{}")
            except ServiceError as error:
                assert error.error_type == "ResourceNotFoundException" and error.status == 404
            else:
                raise AssertionError("a removed function was invoked")
            for _ in range(100):  # its environment is stopped in the background
                if not alive(int(info["pid"])):
                    break
                await asyncio.sleep(0.05)
            assert not alive(int(info["pid"]))
        return int(first), int(info["pid"]), info["env"]["GREETING"]

    first, second, greeting = asyncio.run(asyncio.wait_for(scenario(), 30))
    assert first != second and greeting == "new"
    assert wait_gone(first)


def test_a_bootstrap_that_cannot_be_started_reports_invalid_entrypoint(tmp_path: Path) -> None:
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "h.h", "--bootstrap", "/nonexistent/runtime"],
                      tmp_path) as server:
        result = server.invoke(b"{}")
        assert result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body)["errorType"] == "Runtime.InvalidEntrypoint"


def test_bad_client_context_is_invalid_request_content(tmp_path: Path) -> None:
    with serve_handler("handlers.echo", tmp_path) as server:
        result = post(server.url(), b"{}", {"X-Amz-Client-Context": "%%%not base64"})
        assert result.status == 400
        assert result.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"


def test_layers_python_directories_are_importable_by_the_function(tmp_path: Path) -> None:
    layer = tmp_path / "layer"
    (layer / "python").mkdir(parents=True)
    (layer / "python" / "layer_greeting.py").write_text("GREETING = 'from a layer'\n")
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text("import layer_greeting\n\ndef handler(event, context):\n"
                                 "    return layer_greeting.GREETING\n")

    async def scenario() -> bytes:
        config = FunctionConfig(name="layered", code_dir=code, handler="app.handler", layers=(layer,),
                                bootstrap=(sys.executable, "-m", "awslambdaric"))
        async with LocalLambda() as local:
            local.registry.put(config)
            return (await local.invoke("layered", b"{}")).payload

    assert asyncio.run(asyncio.wait_for(scenario(), 30)) == b'"from a layer"'
