"""kill -9 with 100 accepted Event invocations: after a restart each runs exactly once."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

from tests.conftest import free_port, stop_process, wait_for_port

RUNNER = Path(__file__).with_name("async_runner.py")


def start_runner(data_dir: Path, out: Path, block: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, str(RUNNER), str(data_dir), str(port), str(out), str(block)],
                            start_new_session=True)
    wait_for_port(port, proc=proc)
    return proc, port


def post_event(port: int, n: int) -> int:
    request = urllib.request.Request(f"http://127.0.0.1:{port}/2015-03-31/functions/f/invocations",
                                     data=json.dumps({"n": n}).encode(), method="POST",
                                     headers={"X-Amz-Invocation-Type": "Event"})
    with urllib.request.urlopen(request, timeout=10) as response:
        return int(response.status)


def test_kill_9_with_100_queued_events_loses_none_and_runs_each_once(tmp_path: Path) -> None:
    out, block = tmp_path / "ran.txt", tmp_path / "block"
    block.touch()  # the function hangs: events stay queued or mid-run
    proc, port = start_runner(tmp_path / "data", out, block)
    try:
        assert all(post_event(port, n) == 202 for n in range(100))
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(10)
    finally:
        stop_process(proc)
    assert not out.exists()
    block.unlink()
    proc, _ = start_runner(tmp_path / "data", out, block)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and (not out.exists() or len(out.read_text().split()) < 100):
            time.sleep(0.05)
        time.sleep(0.3)  # a duplicate would show up now
    finally:
        stop_process(proc)
    counts = collections.Counter(int(line) for line in out.read_text().split())
    assert sorted(counts) == list(range(100))
    assert set(counts.values()) == {1}
