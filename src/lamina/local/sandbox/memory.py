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


def _status_kib(pid: int, *fields: str) -> list[int]:
    """The values (KiB) of ``fields`` in ``/proc/pid/status``, 0 for any that cannot be read."""
    values = [0] * len(fields)
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as status:
            for line in status:
                for index, field in enumerate(fields):
                    if line.startswith(field):
                        values[index] = int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return values


def tree_rss(pid: int) -> int:
    """Resident bytes of the process tree right now."""
    return sum(_status_kib(p, "VmRSS:")[0] for p in process_tree(pid)) * _PAGE


def tree_peak_rss(pid: int) -> int:
    """Sum of each live process's peak resident bytes (an upper bound of the tree's peak)."""
    return sum(_status_kib(p, "VmHWM:")[0] for p in process_tree(pid)) * _PAGE


def tree_usage(pid: int) -> tuple[int, int]:
    """:func:`tree_rss` and :func:`tree_peak_rss` in one walk of the tree and one read per process.

    The periodic memory check wants both, and it runs on the event loop every 0.1 s per
    environment: each /proc read there delays whatever invocation is in flight.
    """
    rss = peak = 0
    for each in process_tree(pid):
        now, high = _status_kib(each, "VmRSS:", "VmHWM:")
        rss, peak = rss + now, peak + high
    return rss * _PAGE, peak * _PAGE


def to_mb(size: int) -> int:
    """Bytes to the whole megabytes (MiB) Lambda prints, rounded up."""
    return -(-size // (1024 * 1024))
