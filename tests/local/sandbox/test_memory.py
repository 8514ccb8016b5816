"""Memory measured as Lambda meters a sandbox: shared pages once (PSS over the tree), or the cgroup's."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.local.sandbox import memory

# A parent that touches 64 MiB, then forks 20 children that share those pages and sleep.
_FORKER = """
import os, sys, time
data = bytearray(b"\\x01") * (64 * 1024 * 1024)
for _ in range(20):
    if os.fork() == 0:
        time.sleep(60)
        os._exit(0)
print("ready", flush=True)
time.sleep(60)
"""


@pytest.fixture
def forked_tree() -> Iterator[int]:
    parent = subprocess.Popen([sys.executable, "-c", _FORKER], stdout=subprocess.PIPE, start_new_session=True)
    try:
        assert parent.stdout is not None and parent.stdout.readline() == b"ready\n"
        deadline = time.monotonic() + 10
        while len(memory.process_tree(parent.pid)) < 21 and time.monotonic() < deadline:
            time.sleep(0.02)
        yield parent.pid
    finally:
        os.killpg(parent.pid, signal.SIGKILL)
        parent.wait(10)


def test_pages_shared_by_forked_children_count_once_not_once_per_process(forked_tree: int) -> None:
    tree = memory.process_tree(forked_tree)
    rss = sum(int(line.split()[1]) for pid in tree
              for line in Path(f"/proc/{pid}/status").read_text().splitlines() if line.startswith("VmRSS:"))
    usage = memory.tree_usage(forked_tree)
    assert rss * 1024 > 20 * 64 * 1024 * 1024  # summed RSS counts the 64 MiB 21 times
    assert 64 * 1024 * 1024 < usage.current < 2 * 64 * 1024 * 1024
    assert usage.peak >= usage.current


def test_a_readable_cgroup_is_preferred_and_an_unreadable_one_falls_back_to_the_tree(
        tmp_path: Path) -> None:
    cgroup = tmp_path / "env-1"
    cgroup.mkdir()
    (cgroup / "memory.current").write_text("12345678\n")
    assert memory.cgroup_memory(cgroup) == 12345678
    assert memory.measure(1, cgroup) == memory.Usage(12345678, 12345678)
    (cgroup / "memory.peak").write_text("23456789\n")
    assert memory.measure(1, cgroup) == memory.Usage(12345678, 23456789)
    own = memory.measure(os.getpid(), tmp_path / "gone")
    assert own.current > 1024 * 1024 and own.peak >= own.current
