"""SnapStart simulated by ``lamina serve --snapstart``: hooks in AWS's order, restore, and hook failures."""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

from tests.local.local_helpers import FUNCTIONS, lamina_serve

RUNTIME_FUNCTIONS = Path(__file__).resolve().parents[2] / "runtime" / "functions"


def _serve_hooks(tmp_path: Path, order: Path, fail: str = ""):  # type: ignore[no-untyped-def]
    args = ["--code", str(RUNTIME_FUNCTIONS), "--handler", "hooks.h", "--snapstart",
            "--env", f"HOOK_ORDER_FILE={order}", "--env", f"HOOK_FAIL={fail}"]
    return lamina_serve(args, tmp_path)


def test_hooks_run_before_snapshot_last_first_then_after_restore_in_order_then_the_invocation(
        tmp_path: Path) -> None:
    order = tmp_path / "order"
    with _serve_hooks(tmp_path, order) as server:
        first = server.invoke()
        assert (first.status, json.loads(first.body)) == (200, "ok")
        assert order.read_text().split() == ["b2", "b1", "a1", "a2", "invoke"]
        environ = Path(f"/proc/{server.runtime_pids()[0]}/environ").read_bytes().split(b"\0")
        assert b"AWS_LAMBDA_INITIALIZATION_TYPE=snap-start" in environ
        assert json.loads(server.invoke().body) == "ok"  # a warm invocation runs no hook again
        assert order.read_text().split() == ["b2", "b1", "a1", "a2", "invoke", "invoke"]
        logs = server.logs()
    restore_start = logs.index("RESTORE_START Runtime Version: python")
    restore_report = logs.index("RESTORE_REPORT Restore Duration: ")
    assert restore_start < restore_report < logs.index("START RequestId: ")
    cold, warm = [line for line in logs.splitlines() if "REPORT RequestId: " in line]
    # the restored environment's first REPORT shows its restore, as Lambda's does; no init duration
    assert re.search(r"\tRestore Duration: [0-9.]+ ms\tBilled Restore Duration: \d+ ms\t$", cold), cold
    assert "Init Duration" not in cold
    assert "Restore Duration" not in warm and "Init Duration" not in warm


def test_failing_before_snapshot_hook_is_an_init_error(tmp_path: Path) -> None:
    order = tmp_path / "order"
    with _serve_hooks(tmp_path, order, fail="b1") as server:
        result = server.invoke()
        logs = server.logs()
    assert result.status == 200
    assert result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert json.loads(result.body)["errorMessage"] == "hook b1 failed"
    assert order.read_text().split() == ["b2", "b1"]
    assert "Error Type: Runtime.BeforeSnapshotError" in logs
    assert "RESTORE_START" not in logs


def test_failing_after_restore_hook_is_a_snapstart_exception_and_the_environment_is_discarded(
        tmp_path: Path) -> None:
    order = tmp_path / "order"
    with _serve_hooks(tmp_path, order, fail="a1") as server:
        first = server.invoke()
        second = server.invoke()
        logs = server.logs()
    for result in (first, second):
        assert result.status == 400
        assert result.headers["X-Amzn-ErrorType"] == "SnapStartException"
        message = json.loads(result.body)["Message"]
        assert "Runtime.AfterRestoreError" in message and "hook a1 failed" in message
    # the second invocation restored a fresh environment: every hook ran again
    assert order.read_text().split() == ["b2", "b1", "a1", "b2", "b1", "a1"]
    failed_restores = logs.count("Status: error\tError Type: Runtime.AfterRestoreError")
    assert failed_restores >= 2


def test_restore_endpoints_exist_only_in_snapstart_environments_and_only_during_init(tmp_path: Path) -> None:
    probe = f"{sys.executable} {FUNCTIONS / 'runtimes' / 'restore_probe.py'}"
    answers = {}
    for flags in ([], ["--snapstart"]):
        with lamina_serve(["--code", str(FUNCTIONS), "--bootstrap", probe, "--handler", "x", *flags],
                          tmp_path) as server:
            answers[bool(flags)] = json.loads(server.invoke().body)
    assert answers[False] == {"before": 404, "after": 404, "init_type": "on-demand"}
    assert answers[True] == {"before": 200, "after": 403, "init_type": "snap-start"}
