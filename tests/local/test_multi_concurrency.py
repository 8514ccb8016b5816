"""Lambda Managed Instances through ``lamina serve --max-concurrency N``: one environment, N at once."""

from __future__ import annotations

import base64
import json
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import InvokeResult

from .local_helpers import LaminaServer, lamina_serve, post

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


@pytest.mark.parametrize("handler", ["multi.async_handler", "multi.sync_handler"])
def test_100_concurrent_invocations_share_one_environment_each_seeing_only_its_own_request_id(
        tmp_path: Path, handler: str) -> None:
    args = ["--code", str(RUNTIME_FUNCTIONS), "--handler", handler, "--max-concurrency", "8",
            "--timeout", "30", "--memory", "2048"]  # forked workers count once each against the memory size
    with lamina_serve(args, tmp_path) as server:
        results = _invoke_many(server, 100)
        runtimes = server.runtime_pids()
        environ = Path(f"/proc/{min(runtimes)}/environ").read_bytes().split(b"\0")
        logs = server.logs()
    bodies = [_check_own_request_id(result) for result in results]
    assert len({body["request_id"] for body in bodies}) == 100
    assert b"AWS_LAMBDA_MAX_CONCURRENCY=8" in environ
    assert b"AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances" in environ
    assert logs.count("INIT_START") == 1  # one execution environment served all of them
    if handler == "multi.async_handler":
        assert len({body["pid"] for body in bodies}) == 1
        assert max(body["max_in_flight"] for body in bodies) > 1
