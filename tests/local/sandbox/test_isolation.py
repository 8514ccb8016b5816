"""One function never sees another's invocations or processes, and nothing outlives its environment.

Real ``lamina serve`` processes on 127.0.0.1, real hostile handlers (tests/local/functions/attacks.py),
and /proc checked for leftovers, in both ways of keeping hold of processes (cgroup where a cgroup v2
directory is writable, the marker otherwise).
"""

from __future__ import annotations

import json
import os
import signal
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.local.local_helpers import FUNCTIONS, alive, lamina_serve, wait_gone

CONTAINMENT = ["cgroup", "marker"]


def _project(tmp_path: Path, *names: str) -> Path:
    """A lamina.toml serving ``name = handler`` pairs of tests/local/functions."""
    tables = []
    for pair in names:
        name, handler = pair.split("=")
        tables.append(f'[functions.{name}]\ncode = "{FUNCTIONS}"\nhandler = "{handler}"\ntimeout = 20\n')
    (tmp_path / "lamina.toml").write_text("\n".join(tables))
    return tmp_path


def _env(mode: str) -> dict[str, str]:
    return {"LAMINA_CGROUP": "off"} if mode == "marker" else {}


def test_a_function_cannot_take_another_environments_invocations(tmp_path: Path) -> None:
    project = _project(tmp_path, "victim=handlers.echo", "thief=attacks.steal_invocation")
    with lamina_serve([], tmp_path, cwd=project) as server:
        assert json.loads(server.invoke(b'{"n": 1}', name="victim").body) == {"n": 1}  # warm, polling
        with ThreadPoolExecutor(2) as pool:
            theft = pool.submit(server.invoke, json.dumps({"victim": "victim"}), "thief")
            time.sleep(0.5)
            second = pool.submit(server.invoke, b'{"n": 2}', "victim")
            stolen = json.loads(theft.result(timeout=30).body)
            answer = second.result(timeout=30)
    assert stolen["found"] and stolen["status"] == 403, stolen
    assert "answers only that environment's processes" in stolen["body"]
    assert json.loads(answer.body) == {"n": 2}  # the victim's caller got the victim's own answer


@pytest.mark.parametrize("mode", CONTAINMENT)
def test_a_daemon_in_its_own_session_ends_with_its_environment(tmp_path: Path, mode: str) -> None:
    project = _project(tmp_path, "daemons=attacks.start_daemon")
    with lamina_serve(["--no-watch"], tmp_path, cwd=project, env=_env(mode)) as server:
        started = json.loads(server.invoke(name="daemons").body)
        assert alive(started["daemon"])
        os.kill(started["runtime"], signal.SIGKILL)  # the environment ends (a crash, as Lambda resets it)
        assert wait_gone(started["daemon"]), "a setsid daemon outlived its environment"
        assert json.loads(server.invoke(name="daemons").body)["daemon"] != started["daemon"]


@pytest.mark.parametrize("mode", CONTAINMENT)
def test_nothing_an_environment_started_survives_kill_9_of_lamina_serve(tmp_path: Path, mode: str) -> None:
    project = _project(tmp_path, "daemons=attacks.start_daemon")
    with lamina_serve(["--no-watch"], tmp_path, cwd=project, env=_env(mode)) as server:
        started = json.loads(server.invoke(name="daemons").body)
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(timeout=10)
        assert wait_gone(started["runtime"]) and wait_gone(started["daemon"]), "processes outlived serve"


def test_each_environment_has_its_own_temporary_directory(tmp_path: Path) -> None:
    project = _project(tmp_path, "tmp=attacks.temp_dir")
    (project / "lamina.toml").write_text((project / "lamina.toml").read_text() + "concurrency = 2\n")
    with lamina_serve(["--no-watch"], tmp_path, cwd=project) as server, ThreadPoolExecutor(2) as pool:
        answers = [json.loads(answer.body) for answer in
                   pool.map(lambda _: server.invoke(b'{"hold": 1}', name="tmp"), range(2))]
    first, second = (answer["tempdir"] for answer in answers)
    assert first != second and "/tmp" not in (first, second)
    assert not Path(first).exists() and not Path(second).exists()  # removed with their environments
