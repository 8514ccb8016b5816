"""Lambda Managed Instances through ``lamina serve --max-concurrency N``: one environment, N at once."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import re
import shutil
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import ROOT, InvokeResult, free_ports, rie_binary, stop_process, wait_for_port
from tests.local.local_helpers import FUNCTIONS, RIC_BOOTSTRAP, LaminaServer, lamina_serve, post, wait_gone

RUNTIME_FUNCTIONS = Path(__file__).resolve().parent.parent / "runtime" / "functions"
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def _invoke_many(server: LaminaServer, count: int) -> list[InvokeResult]:
    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(lambda _: post(server.url(), b"{}", {"X-Amz-Log-Type": "Tail"}), range(count)))


def _check_own_request_id(result: InvokeResult) -> dict:  # type: ignore[type-arg]
    assert result.status == 200, result.body
    assert "X-Amz-Function-Error" not in result.headers
    request_id = result.headers["x-amzn-RequestId"]
    body = json.loads(result.body)
    assert body["request_id"] == request_id
    log = base64.b64decode(result.headers["X-Amz-Log-Result"]).decode()
    assert f"START RequestId: {request_id}" in log and f"REPORT RequestId: {request_id}" in log
    for line in log.splitlines():
        assert set(UUID.findall(line)) <= {request_id}, line  # no other invocation's lines
    return body  # type: ignore[no-any-return]


@pytest.mark.parametrize(("handler", "bootstrap"),
                         [("multi.async_handler", None), ("multi.sync_handler", None),
                          ("multi.sync_handler", RIC_BOOTSTRAP)],
                         ids=["lamina-async", "lamina-sync", "awslambdaric-sync"])
def test_100_concurrent_invocations_share_one_environment_each_seeing_only_its_own_request_id(
        tmp_path: Path, handler: str, bootstrap: str | None) -> None:
    args = ["--code", str(RUNTIME_FUNCTIONS), "--handler", handler, "--max-concurrency", "8",
            "--timeout", "30"]
    if bootstrap is not None:  # AWS's own runtime client (4.x) in its managed-instances mode
        args += ["--bootstrap", bootstrap]
    with lamina_serve(args, tmp_path) as server:
        results = _invoke_many(server, 100)
        runtimes = server.runtime_pids()
        environ = Path(f"/proc/{min(runtimes)}/environ").read_bytes().split(b"\0")
        logs = server.logs()
    bodies = [_check_own_request_id(result) for result in results]
    assert len({body["request_id"] for body in bodies}) == 100
    assert b"AWS_LAMBDA_MAX_CONCURRENCY=8" in environ
    assert b"AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances" in environ
    assert b"AWS_LAMBDA_FUNCTION_MEMORY_SIZE=2048" in environ  # managed instances' smallest size
    assert logs.count("INIT_START") == 1  # one execution environment served all of them
    if handler == "multi.async_handler":
        assert len({body["pid"] for body in bodies}) == 1
        assert max(body["max_in_flight"] for body in bodies) > 1


def _rie_lmi_command(task: Path, port: int, api_port: int) -> list[str]:
    """AWS's emulator in LMI mode needs the bootstrap at /var/task/bootstrap and runs it as uid 993:
    bubblewrap gives it a private /var/task and a readable interpreter (pyenv lives under /root)."""
    python = Path(sys.executable).resolve()
    binds = ["--dev-bind", "/", "/"]
    if str(python).startswith("/root/"):
        top = Path("/root") / python.relative_to("/root").parts[0]
        binds += ["--tmpfs", "/root", "--ro-bind", str(top), str(top)]
    return ["bwrap", *binds, "--bind", str(task), "/var/task", "--", str(rie_binary()),
            "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
            "--runtime-api-address", f"127.0.0.1:{api_port}"]


def _invoke_until_accepted(port: int) -> InvokeResult:
    """An invocation; the emulator refuses one that finds no idle poller (400 Runtime.Unavailable)."""
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/function/invocations"
    for _ in range(200):
        result = post(url, b"{}")
        if result.status != 400:
            return result
        time.sleep(0.02)
    raise AssertionError(f"the emulator kept refusing: {result.body!r}")


@pytest.mark.skipif(shutil.which("bwrap") is None or os.geteuid() != 0,
                    reason="AWS's emulator in LMI mode needs root (it runs the runtime as uid 993) and "
                           "bubblewrap for a private /var/task")
def test_lamina_runtime_runs_concurrent_invocations_under_aws_emulator_in_lmi_mode(tmp_path: Path) -> None:
    task = tmp_path / "task"
    task.mkdir()
    bootstrap = task / "bootstrap"
    bootstrap.write_text(f"#!/bin/sh\ncd {RUNTIME_FUNCTIONS}\n"
                         f"exec {Path(sys.executable).resolve()} -m lamina.runtime multi.async_handler\n")
    for path in (tmp_path, task, bootstrap):
        path.chmod(0o755)
    port, api_port = free_ports(2)
    log_path = tmp_path / "rie.log"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_HANDLER"))}
    env.update({"AWS_LAMBDA_MAX_CONCURRENCY": "8", "PYTHONPATH": str(ROOT / "src")})
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(_rie_lmi_command(task, port, api_port), cwd=tmp_path, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
        with ThreadPoolExecutor(max_workers=8) as pool:
            results = list(pool.map(lambda _: _invoke_until_accepted(port), range(40)))
    finally:
        stop_process(proc)
    bodies = [json.loads(result.body) for result in results]
    assert all(result.status == 200 for result in results)
    assert len({body["request_id"] for body in bodies}) == 40
    assert len({body["pid"] for body in bodies}) == 1
    assert max(body["max_in_flight"] for body in bodies) > 1
    records = [json.loads(line) for line in log_path.read_text().splitlines() if line.startswith('{"')]
    handler_lines = [r for r in records if r.get("logger") == "multi"]
    assert len(handler_lines) == 40
    for record in handler_lines:
        assert json.loads(record["message"])["context_request_id"] == record["requestId"]


def test_a_new_configuration_retires_an_idle_managed_instance(tmp_path: Path) -> None:
    from lamina.local.invoke.service import LocalLambda
    from lamina.local.model.function_config import FunctionConfig

    async def scenario() -> tuple[int, bool]:
        config = FunctionConfig(name="fn", code_dir=RUNTIME_FUNCTIONS, handler="multi.async_handler",
                                environment_concurrency=4, memory_mb=1024)
        async with LocalLambda() as local:
            local.registry.put(config)
            await local.invoke("fn", b"{}")
            old_pool = local.pool("fn")
            assert old_pool is not None
            (environment,) = old_pool.environments
            pid = environment.process.pid
            assert pid is not None
            local.registry.put(config.with_changes(timeout=5.0))
            for _ in range(200):
                if not environment.process.alive:
                    break
                await asyncio.sleep(0.02)
            return pid, environment.process.alive

    pid, alive = asyncio.run(scenario())
    assert not alive
    assert wait_gone(pid)


def test_a_timeout_fails_only_its_own_invocation_and_the_managed_instance_keeps_serving(
        tmp_path: Path) -> None:
    args = ["--code", str(FUNCTIONS), "--handler", "handlers.sleep", "--max-concurrency", "4",
            "--timeout", "1"]
    with lamina_serve(args, tmp_path) as server:
        payloads = [b'{"seconds": 5}'] + [b'{"seconds": 0.05}'] * 3
        with ThreadPoolExecutor(max_workers=4) as pool:
            slow, *quick = pool.map(lambda payload: post(server.url(), payload), payloads)
        after = post(server.url(), b'{"seconds": 0.05}')
        logs = server.logs()
    assert slow.headers["X-Amz-Function-Error"] == "Unhandled"
    assert json.loads(slow.body)["errorType"] == "Sandbox.Timedout"
    assert all(json.loads(result.body)["slept"] == 0.05 for result in [*quick, after])
    assert logs.count("INIT_START") == 1


def test_an_init_error_fails_the_invocations_waiting_on_a_managed_instance(tmp_path: Path) -> None:
    args = ["--code", str(RUNTIME_FUNCTIONS), "--handler", "import_bad.handler", "--max-concurrency", "4"]
    with lamina_serve(args, tmp_path) as server, ThreadPoolExecutor(max_workers=3) as pool:
        results = list(pool.map(lambda _: server.invoke(), range(3)))
    for result in results:
        assert result.headers["X-Amz-Function-Error"] == "Unhandled"
        assert json.loads(result.body)["errorType"] == "Runtime.ImportModuleError"
