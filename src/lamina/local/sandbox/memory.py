"""Memory of an execution environment, measured as Lambda meters a sandbox (Linux).

Lambda bounds the sandbox as a whole (its cgroup), so a page its processes share counts once. Locally:

- an environment that runs in its own cgroup v2 is read from the cgroup (``memory.current``, and
  ``memory.peak`` where the kernel has it), as Lambda reads its sandbox;
- otherwise the proportional set size (``Pss:`` of ``/proc/PID/smaps_rollup``) is summed over the
  runtime's process tree: a page shared by n processes counts 1/n in each, so 200 forked children
  count their shared pages once, where summed RSS counted them 200 times. Where smaps_rollup cannot
  be read (kernels before 4.14, a process of another user) its RSS stands in.

Resident memory (not address space) is what Lambda meters: an ``RLIMIT_AS`` would kill Python long
before its real footprint reaches the memory size, so environments are polled instead. Reading
smaps_rollup costs the kernel a walk of the process's page tables (about 1 ms for 50 MB resident), so
the poll runs off the event loop (:meth:`~lamina.local.environments.process.EnvironmentProcess.check_memory`).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

_KIB = 1024


@dataclass(frozen=True)
class Usage:
    """An environment's memory in bytes: now, and the highest it has been (an upper estimate)."""

    current: int
    peak: int


def _read(path: str) -> bytes:
    """A small /proc or cgroup file in one read (b"" if it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return b""
    try:
        return os.read(fd, 65536)
    except OSError:
        return b""
    finally:
        os.close(fd)


def _kib(text: bytes, field: bytes) -> Optional[int]:
    """The value of ``field`` (``b"\\nName:"``) in a ``/proc`` file of ``Name: N kB`` lines."""
    start = text.find(field)
    if start < 0:
        return None
    start += len(field)
    end = text.find(b"kB", start)
    try:
        return int(text[start:end if end >= 0 else None])
    except ValueError:
        return None


def _children(pid: int) -> list[int]:
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return found
    for tid in tasks:
        found.extend(int(child) for child in _read(f"/proc/{pid}/task/{tid}/children").split())
    return found


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants that are still alive."""
    tree, pending = [], [pid]
    while pending:
        current = pending.pop()
        tree.append(current)
        pending.extend(_children(current))
    return tree


def process_usage(pid: int) -> Usage:
    """One process's PSS (RSS where smaps_rollup is unreadable), and its peak in the same terms.

    The kernel keeps no peak of PSS; the process's resident peak above its resident memory now
    (``VmHWM - VmRSS``: what it has given back since) is added to its PSS instead.
    """
    status = b"\n" + _read(f"/proc/{pid}/status")
    rss = _kib(status, b"\nVmRSS:") or 0
    high = _kib(status, b"\nVmHWM:") or rss
    pss = _kib(_read(f"/proc/{pid}/smaps_rollup"), b"\nPss:")
    now = rss if pss is None else pss
    return Usage(now * _KIB, (now + max(high - rss, 0)) * _KIB)


def tree_usage(pid: int) -> Usage:
    """:func:`process_usage` summed over ``pid``'s process tree."""
    current = peak = 0
    for each in process_tree(pid):
        usage = process_usage(each)
        current, peak = current + usage.current, peak + usage.peak
    return Usage(current, peak)


def cgroup_memory(path: Path) -> int:
    """Bytes charged to the cgroup v2 at ``path`` now (``memory.current``); ``OSError`` if unreadable."""
    return int((path / "memory.current").read_text())


def cgroup_usage(path: Path) -> Usage:
    """:func:`cgroup_memory`, with ``memory.peak`` (kernel 5.19+) as the peak where it exists."""
    current = cgroup_memory(path)
    peak = _read(str(path / "memory.peak")).strip()
    return Usage(current, max(current, int(peak)) if peak.isdigit() else current)


def measure(pid: int, cgroup: Optional[Path] = None) -> Usage:
    """The environment's memory: its cgroup's if it has a readable one, else its process tree's PSS."""
    if cgroup is not None:
        try:
            return cgroup_usage(cgroup)
        except (OSError, ValueError):
            pass
    return tree_usage(pid)


def to_mb(size: int) -> int:
    """Bytes to the whole megabytes (MiB) Lambda prints, rounded up."""
    return -(-size // (1024 * 1024))


def available() -> Optional[int]:
    """Bytes this machine can still give new processes: ``MemAvailable``, or less where lamina's own
    cgroup v2 has a limit nearer (a container's); None where neither can be read."""
    meminfo = _kib(b"\n" + _read("/proc/meminfo"), b"\nMemAvailable:")
    found = None if meminfo is None else meminfo * _KIB
    own = _read("/proc/self/cgroup").strip()
    if own.startswith(b"0::"):
        group = Path("/sys/fs/cgroup") / own[3:].decode(errors="replace").lstrip("/")
        limit = _read(str(group / "memory.max")).strip()
        if limit.isdigit():
            try:
                room = int(limit) - cgroup_memory(group)
            except (OSError, ValueError):
                room = None
            if room is not None:
                found = room if found is None else min(found, room)
    return found
