"""A runtime process: started in its own session with Lambda's variables, its output relayed by line.

The process runs in its own session (so the whole group can be killed, as Lambda resets a sandbox)
and dies with ``lamina serve`` (``PR_SET_PDEATHSIG``). Its stdout and stderr share one pipe, read
without blocking on the event loop; each chunk is split at newlines with work proportional to the
chunk (a pending partial line is appended to, never re-joined), and a line longer than Lambda's log
event limit is cut there, as CloudWatch Logs would, so a runtime that writes megabytes without a
newline costs neither time nor memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Mapping, Optional, Sequence

# CloudWatch Logs' largest event (256 KB): a longer line is cut into events of this size.
MAX_LINE_BYTES = 256 * 1024
_READ_SIZE = 65536


def die_with_this_process() -> Callable[[], None] | None:
    """A ``preexec_fn`` that makes the environment die with ``lamina serve`` (Linux PDEATHSIG).

    Environments run in their own session, so nothing else stops them if serve is killed with -9;
    a leftover runtime could finish an Event invocation that the restarted serve then runs again.
    libc's ``prctl`` is resolved here, in the parent: the child only calls it between fork and exec.
    """
    if not sys.platform.startswith("linux"):
        return None
    import ctypes

    prctl = ctypes.CDLL(None, use_errno=True).prctl
    parent = os.getpid()

    def preexec() -> None:
        prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # serve died before prctl took effect
            os._exit(1)

    return preexec


def _chain(*steps: Optional[Callable[[], None]]) -> Optional[Callable[[], None]]:
    present = [step for step in steps if step is not None]
    if not present:
        return None

    def run() -> None:
        for step in present:
            step()

    return run


class LineSplitter:
    """Bytes in, lines out (without their newline and trailing CR), each at most ``limit`` bytes."""

    def __init__(self, on_line: Callable[[bytes], None], limit: int = MAX_LINE_BYTES) -> None:
        self._on_line = on_line
        self._limit = limit
        self._partial = bytearray()

    def feed(self, chunk: bytes) -> None:
        start = 0
        while True:
            newline = chunk.find(b"\n", start)
            if newline < 0:
                break
            if self._partial:
                self._partial += chunk[start:newline]
                line = bytes(self._partial)
                self._partial.clear()
            else:
                line = chunk[start:newline]
            self._emit(line)
            start = newline + 1
        self._partial += chunk[start:]
        while len(self._partial) > self._limit:
            self._on_line(bytes(self._partial[:self._limit]))
            del self._partial[:self._limit]

    def flush(self) -> None:
        """A partial line is a line of its own (the output ended)."""
        if self._partial:
            line = bytes(self._partial)
            self._partial.clear()
            self._emit(line)

    def _emit(self, line: bytes) -> None:
        line = line[:-1] if line.endswith(b"\r") else line
        for start in range(0, max(len(line), 1), self._limit):
            self._on_line(line[start:start + self._limit])


class RuntimeProcess:
    """One runtime process and its output pipe."""

    def __init__(self, on_line: Callable[[str], None]) -> None:
        self._lines = LineSplitter(lambda line: on_line(line.decode(errors="replace")))
        self._process: Optional[asyncio.subprocess.Process] = None
        self._fd: Optional[int] = None
        # The environment's own cgroup v2 directory when it runs in one (set by whoever puts it there);
        # its memory is then read from the cgroup (lamina.local.sandbox.memory.measure).
        self.cgroup: Optional[Path] = None

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    @property
    def started(self) -> bool:
        return self._process is not None

    async def spawn(self, argv: Sequence[str], cwd: Path, env: Mapping[str, str],
                    preexec: Optional[Callable[[], None]] = None) -> None:
        """Start the process; ``OSError`` if it cannot be (a missing or non-executable bootstrap).

        ``preexec`` runs in the child before exec, after it is set to die with this process.
        """
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        try:
            self._process = await asyncio.create_subprocess_exec(
                *argv, cwd=cwd, env=dict(env), stdin=subprocess.DEVNULL, stdout=write_fd, stderr=write_fd,
                start_new_session=True, preexec_fn=_chain(die_with_this_process(), preexec))
        except OSError:
            os.close(read_fd)
            raise
        finally:
            os.close(write_fd)
        self._fd = read_fd
        asyncio.get_running_loop().add_reader(read_fd, self.read)

    def read(self) -> None:
        """Relay what the process has written so far (called by the loop, and before END lines)."""
        if self._fd is None:
            return
        while True:
            try:
                chunk = os.read(self._fd, _READ_SIZE)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                asyncio.get_running_loop().remove_reader(self._fd)
                self._lines.flush()
                return
            self._lines.feed(chunk)

    def end_line(self) -> None:
        """What the process wrote without a newline so far becomes a line of its own: output belongs to
        the invocation during which it was written (called before an invocation's END)."""
        self.read()
        self._lines.flush()

    async def wait(self) -> int:
        """Wait for the process to end; its last output is relayed and the pipe closed."""
        assert self._process is not None
        returncode = await self._process.wait()
        self.read()
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        return returncode

    def kill(self) -> None:
        """SIGKILL the whole process group, as Lambda resets a sandbox."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)
