"""Memory of an execution environment's process tree, read from /proc (Linux).

Lambda bounds the whole sandbox, so the figure is the sum over the runtime and every process it
started. Resident memory (not address space) is what Lambda meters: an ``RLIMIT_AS`` would kill
Python long before its real footprint reaches the memory size, so environments are polled instead.
"""

from __future__ import annotations

import os
from pathlib import Path

_PAGE = 1024


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except OSError:
            continue
        found.extend(int(child) for child in text.split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are still alive."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(_children(current))
    return tree


def _status_kib(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                if line.startswith(field):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return 0


def tree_rss(pid: int) -> int:
    """Resident bytes of the process tree right now."""
    return sum(_status_kib(p, "VmRSS:") for p in process_tree(pid)) * _PAGE


def tree_peak_rss(pid: int) -> int:
    """Sum of each live process's peak resident bytes (an upper bound of the tree's peak)."""
    return sum(_status_kib(p, "VmHWM:") for p in process_tree(pid)) * _PAGE


def to_mb(size: int) -> int:
    """Bytes to the whole megabytes (MiB) Lambda prints, rounded up."""
    return -(-size // (1024 * 1024))
