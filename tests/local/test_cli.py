"""``lamina invoke`` and ``lamina serve`` from the command line, as a user runs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import ROOT
from tests.local.local_helpers import FUNCTIONS, RIC_BOOTSTRAP, lamina_serve


def _lamina(*args: str, stdin: bytes | None = None,
            cwd: Path = FUNCTIONS) -> subprocess.CompletedProcess[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    return subprocess.run([sys.executable, "-m", "lamina", *args], input=stdin, capture_output=True,
                          cwd=cwd, env=env, timeout=60)


def test_invoke_prints_the_payload_on_stdout_and_lambdas_log_on_stderr() -> None:
    done = _lamina("invoke", "handlers.log_and_return", "--bootstrap", RIC_BOOTSTRAP, "--event", "{}")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == {"ok": True}
    log = done.stderr.decode()
    assert "function | a line from the handler" in log
    report = next(line for line in log.splitlines() if "REPORT RequestId:" in line)
    assert report.startswith("function | REPORT RequestId: ")
    assert "\tInit Duration: " in report and report.index("Max Memory Used") < report.index("Init Duration")


def test_invoke_reads_the_event_from_stdin_or_a_file(tmp_path: Path) -> None:
    piped = _lamina("invoke", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP, stdin=b'{"from": "stdin"}')
    assert json.loads(piped.stdout) == {"from": "stdin"}
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    from_file = _lamina("invoke", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP, "--event-file", str(event))
    assert json.loads(from_file.stdout) == {"from": "file"}


def test_invoke_exits_1_with_the_error_document_on_a_function_error() -> None:
    done = _lamina("invoke", "handlers.fail", "--bootstrap", RIC_BOOTSTRAP, "--name", "failing")
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorType"] == "ValueError"
    assert "failing | " in done.stderr.decode()


def test_invoke_with_a_timeout_reports_task_timed_out() -> None:
    done = _lamina("invoke", "handlers.sleep", "--bootstrap", RIC_BOOTSTRAP, "--timeout", "0.5",
                   "--event", '{"seconds": 10}')
    assert done.returncode == 1
    assert json.loads(done.stdout)["errorMessage"].endswith("Task timed out after 0.50 seconds")


def test_invoke_rejects_an_event_that_is_not_json_without_a_traceback() -> None:
    done = _lamina("invoke", "handlers.echo", "--bootstrap", RIC_BOOTSTRAP, "--event", "{nope")
    assert done.returncode == 2
    assert b"InvalidRequestContentException" in done.stderr and b"Traceback" not in done.stderr


def test_invoke_passes_env_flags_to_the_function() -> None:
    done = _lamina("invoke", "handlers.context_info", "--bootstrap", RIC_BOOTSTRAP, "--env", "GREETING=hey",
                   "--memory", "512")
    info = json.loads(done.stdout)
    assert info["env"]["GREETING"] == "hey" and info["memory_limit_in_mb"] == "512"


def test_serve_reads_functions_from_pyproject(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n'
        f'[tool.lamina.functions.greeter]\ncode = "{FUNCTIONS}"\nhandler = "handlers.echo"\n'
        f'bootstrap = "{RIC_BOOTSTRAP}"\n')
    with lamina_serve([], tmp_path, cwd=tmp_path) as server:
        assert server.invoke(b'{"hi": 1}', name="greeter").body == b'{"hi": 1}'
        assert server.invoke(b"{}", name="nope").status == 404
        assert server.invoke_fixed(b"[3]").body == b"[3]"  # the emulator's path serves the first function


def test_serve_without_a_handler_or_project_is_a_usage_error(tmp_path: Path) -> None:
    done = _lamina("serve", "--port", "0", "--code", str(tmp_path), cwd=tmp_path)
    assert done.returncode == 2 and b"Traceback" not in done.stderr
