"""One execution environment: a runtime process, its Runtime API socket, its logs and limits.

This is the I/O shell around :class:`~lamina.local.lifecycle.single.Lifecycle`: it starts the process (own
session, Lambda's environment variables, cwd at the code directory), answers the Runtime API through
the lifecycle, enforces the init and invocation timeouts, kills the process group when Lambda would
reset the sandbox, and writes START/END/REPORT around each invocation's output.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from typing import Callable, Optional, Union

from lamina.local.environments.logsink import LogSink
from lamina.local.lifecycle import snapstart
from lamina.local.lifecycle.single import Deliver, Invocation, Kind, Lifecycle, Outcome, Reply, State, Wait
from lamina.local.model import function_errors, log_lines
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.server import RuntimeApiServer
from lamina.local.sandbox import memory
from lamina.local.sandbox import variables as sandbox_env
from lamina.runtime import error_types

# After /init/error the runtime should exit by itself; after this long it is killed.
INIT_ERROR_GRACE = 1.0


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


@dataclass(frozen=True)
class InvocationRecord:
    """An invocation's outcome with the figures and the log Lambda reports for it."""

    outcome: Outcome
    log: bytes  # START … REPORT, with the runtime's output in between
    duration_ms: float
    init_duration_ms: Optional[float]
    max_memory_used_mb: int


class EnvironmentLost(Exception):
    """A warm environment died between invocations before it received the one handed to it.

    The invocation never started, so the pool runs it on a fresh environment, as Lambda would.
    """


class ExecutionEnvironment:
    """A runtime process serving one function, one invocation at a time."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 on_exit: Optional[Callable[[ExecutionEnvironment], None]] = None) -> None:
        self.config = config
        self.id = uuid.uuid4().hex[:8]
        self.lifecycle = Lifecycle()
        self.last_used = time.monotonic()
        self.peak_rss = 0
        self.init_duration_ms: Optional[float] = None
        self._server = server
        self._sink = sink
        self._on_exit = on_exit
        self._address: Optional[str] = None
        self._process: Optional[asyncio.subprocess.Process] = None
        self._spawn_error: Optional[str] = None
        self._fd: Optional[int] = None
        self._partial = b""
        self._poll: Optional[asyncio.Future[tuple[Invocation, int]]] = None
        self._result: Optional[asyncio.Future[Outcome]] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._log: Optional[bytearray] = None
        self._started_line = False
        self._spawned_at = 0.0
        self._began_at: Optional[float] = None
        self._deadline_ms = 0
        self._invoke_deadline: Optional[float] = None  # set when init overran into the invoke phase
        self._init_reported = False
        self._exited = asyncio.Event()

    # --- public ----------------------------------------------------------------------------------

    @property
    def pid(self) -> Optional[int]:
        return self._process.pid if self._process is not None else None

    @property
    def alive(self) -> bool:
        return self._process is not None and self.lifecycle.state not in (State.DEAD, State.INIT_ERROR)

    @property
    def available(self) -> bool:
        return self.alive and self.lifecycle.available

    async def start(self) -> None:
        """Open the Runtime API socket and start the runtime process (the init phase begins)."""
        self._address = await self._server.attach(self)
        env = sandbox_env.build(self.config, self._address)
        read_fd, write_fd = os.pipe()
        os.set_blocking(read_fd, False)
        self._spawned_at = time.perf_counter()
        self._emit(log_lines.init_start(self.config.runtime_name))
        try:
            self._process = await asyncio.create_subprocess_exec(
                *self.config.command(), cwd=self.config.code_dir, env=env, stdin=subprocess.DEVNULL,
                stdout=write_fd, stderr=write_fd, start_new_session=True, preexec_fn=die_with_this_process())
        except OSError as exc:
            os.close(read_fd)
            self._spawn_error = f"fork/exec {exc.filename or self.config.command()[0]}: {exc.strerror}"
            self.lifecycle.shut_down()
            await self._server.detach(self._address)
            self._exited.set()
            if self._on_exit is not None:
                self._on_exit(self)
            return
        finally:
            os.close(write_fd)
        self._fd = read_fd
        asyncio.get_running_loop().add_reader(read_fd, self._read_output)
        asyncio.get_running_loop().create_task(self._watch_exit(self._process))

    async def run(self, invocation: Invocation) -> InvocationRecord:
        """Run one invocation to its end (response, error, timeout, crash) and report it."""
        loop = asyncio.get_running_loop()
        self._result = loop.create_future()
        self._log = bytearray()
        self._started_line = False
        self._began_at = None
        self._invoke_deadline = None
        warm = self.lifecycle.init_done
        if self._spawn_error is not None:
            message = f"RequestId: {invocation.request_id} Error: {self._spawn_error}"
            document = function_errors.document(error_types.INVALID_ENTRYPOINT, message)
            self._result.set_result(Outcome(invocation.request_id, Kind.EXIT, document,
                                            error_type=error_types.INVALID_ENTRYPOINT))
        else:
            cold = self.lifecycle.state is State.INIT
            deliver = self.lifecycle.assign(invocation)
            if deliver is not None:
                self._hand_over(deliver.invocation)
            elif cold:
                remaining = self.config.init_timeout - (time.perf_counter() - self._spawned_at)
                self._timer = loop.call_later(max(remaining, 0.0), self._init_timed_out)
        try:
            outcome = await self._result
        except asyncio.CancelledError:
            # The caller went away for good (server shutdown): this environment is reset.
            self.kill()
            raise
        if warm and outcome.kind is Kind.EXIT and self._began_at is None:
            self._drain()
            self._log = None
            raise EnvironmentLost(outcome.request_id)
        return self._report(invocation, outcome)

    def check_memory(self) -> None:
        """Called periodically: kill the environment when its processes exceed the memory size."""
        pid = self.pid
        if pid is None or not self.alive:
            return
        rss, peak = memory.tree_usage(pid)
        self.peak_rss = max(self.peak_rss, rss, peak)
        if rss > self.config.memory_mb * 1024 * 1024:
            self.lifecycle.memory_exceeded()
            self.kill()

    def kill(self) -> None:
        """SIGKILL the whole process group, as Lambda resets a sandbox."""
        if self._process is None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self._process.pid, signal.SIGKILL)

    async def stop(self) -> None:
        """Shut the environment down (idle timeout, config change, server exit)."""
        self.lifecycle.shut_down()
        self.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._exited.wait(), 5.0)

    # --- Runtime API (called by RuntimeApiServer) --------------------------------------------------

    async def on_next(self) -> Union[Reply, tuple[Invocation, int]]:
        was_init = self.lifecycle.state is State.INIT
        action = self.lifecycle.next_requested()
        if was_init and self.lifecycle.init_done:
            self.init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
            if self._timer is not None and self._began_at is None:
                self._timer.cancel()
                self._timer = None
        if isinstance(action, Reply):
            return action
        if isinstance(action, Deliver):
            return self._hand_over(action.invocation)
        assert isinstance(action, Wait)
        self._poll = asyncio.get_running_loop().create_future()
        try:
            return await self._poll
        except asyncio.CancelledError:
            self.lifecycle.poll_abandoned()
            raise
        finally:
            self._poll = None

    def on_response(self, request_id: str, body: bytes, size: int, content_type: str) -> Reply:
        reply, outcome = self.lifecycle.response_posted(request_id, size, body, content_type)
        self._complete(outcome)
        return reply

    def on_error(self, request_id: str, body: bytes, content_type: Optional[str],
                 error_type: Optional[str]) -> Reply:
        reply, outcome = self.lifecycle.error_posted(request_id, body, content_type, error_type)
        self._complete(outcome)
        return reply

    def on_init_error(self, body: bytes, content_type: Optional[str], error_type: Optional[str]) -> Reply:
        reply, outcome = self.lifecycle.init_error_posted(body, content_type, error_type)
        if reply.status == 202:
            if self.init_duration_ms is None:
                self.init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
            asyncio.get_running_loop().call_later(INIT_ERROR_GRACE, self.kill)
        self._complete(outcome)
        return reply

    # --- internals -------------------------------------------------------------------------------

    def _hand_over(self, invocation: Invocation) -> tuple[Invocation, int]:
        """The invocation starts: START line, timeout clock, deadline header (once per invocation;
        a runtime asking ``next`` again gets the same deadline)."""
        starting = self._began_at is None
        if starting:
            self._began_at = time.perf_counter()
            remaining = invocation.timeout
            if self._invoke_deadline is not None:  # the init that overran already spent some of it
                remaining = max(0.0, self._invoke_deadline - time.perf_counter())
            if self._timer is not None:
                self._timer.cancel()
            self._timer = asyncio.get_running_loop().call_later(remaining, self._timed_out)
            self._deadline_ms = int(time.time() * 1000 + remaining * 1000)
        if self._poll is not None and not self._poll.done():
            self._poll.set_result((invocation, self._deadline_ms))
        if starting:
            # After waking the poll: the sink writes in the order it was called to, and the runtime
            # waiting for this invocation should not wait for the START line to reach the terminal.
            self._emit(log_lines.start(invocation.request_id, self.config.version))
            self._started_line = True
        return invocation, self._deadline_ms

    def _init_timed_out(self) -> None:
        # Lambda retries an init that overran its 10 s inside the invoke phase, under the function's
        # timeout; the runtime keeps going here, and the function timeout now applies.
        current = self.lifecycle.current
        if self.lifecycle.state is State.INIT and current is not None:
            self._invoke_deadline = time.perf_counter() + current.timeout
            self._timer = asyncio.get_running_loop().call_later(current.timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        outcome = self.lifecycle.timed_out()
        self.kill()
        self._complete(outcome)

    def _complete(self, outcome: Optional[Outcome]) -> None:
        if outcome is None:
            return
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._result is not None and not self._result.done():
            self._result.set_result(outcome)

    async def _watch_exit(self, process: asyncio.subprocess.Process) -> None:
        returncode = await process.wait()
        self._drain()
        self._complete(self.lifecycle.process_exited(returncode))
        self.kill()  # anything the runtime left behind in its session goes with it
        if self._fd is not None:
            asyncio.get_running_loop().remove_reader(self._fd)
            os.close(self._fd)
            self._fd = None
        if self._address is not None:
            await self._server.detach(self._address)
        self._exited.set()
        if self._on_exit is not None:
            self._on_exit(self)

    def _report(self, invocation: Invocation, outcome: Outcome) -> InvocationRecord:
        self._drain()
        now = time.perf_counter()
        duration_ms = (now - (self._began_at or now)) * 1000
        init_ms: Optional[float] = None
        if not self._init_reported:
            self._init_reported = True
            init_ms = self.init_duration_ms
            if init_ms is None:
                init_ms = (now - self._spawned_at) * 1000 if self._spawned_at else 0.0
        if outcome.kind is Kind.OUT_OF_MEMORY:
            used_mb = self.config.memory_mb
        else:
            if init_ms is not None and self.pid is not None and self.alive:
                # Once per environment; later peaks come from the periodic memory check, which keeps
                # /proc reads off the invocation path.
                self.peak_rss = max(self.peak_rss, memory.tree_peak_rss(self.pid))
            used_mb = memory.to_mb(self.peak_rss)
        if not self.lifecycle.init_done and init_ms is not None:
            timed_out = outcome.kind is Kind.TIMEOUT
            self._emit(log_lines.init_report(init_ms, "timeout" if timed_out else "error",
                                             None if timed_out else outcome.error_type))
        if not self._started_line:
            self._emit(log_lines.start(invocation.request_id, self.config.version))
        status: Optional[str] = None
        if outcome.kind is Kind.TIMEOUT:
            self._emit(log_lines.timed_out(invocation.request_id,
                                           function_errors.timeout_message(invocation.timeout)))
            status = "timeout"
        elif outcome.kind in (Kind.EXIT, Kind.OUT_OF_MEMORY, Kind.INIT_ERROR, Kind.RESPONSE_TOO_LARGE):
            status = "error"
        self._emit(log_lines.end(invocation.request_id))
        # A restored SnapStart environment reports its restore where others report their init.
        restore_ms = snapstart.restore_duration_ms(self) if init_ms is not None else None
        self._emit(log_lines.report(log_lines.Report(
            invocation.request_id, duration_ms, self.config.memory_mb, used_mb,
            init_ms if restore_ms is None else None, status,
            outcome.error_type if status == "error" else None, restore_ms)))
        log = bytes(self._log or b"")
        self._log = None
        self.last_used = time.monotonic()
        return InvocationRecord(outcome, log, duration_ms, init_ms, used_mb)

    def _read_output(self) -> None:
        if self._fd is None:
            return
        while True:
            try:
                chunk = os.read(self._fd, 65536)
            except BlockingIOError:
                return
            except OSError:
                chunk = b""
            if not chunk:
                asyncio.get_running_loop().remove_reader(self._fd)
                if self._partial:
                    self._emit(self._partial.decode(errors="replace"))
                    self._partial = b""
                return
            lines = (self._partial + chunk).split(b"\n")
            self._partial = lines.pop()
            for line in lines:
                self._emit(line.rstrip(b"\r").decode(errors="replace"))

    def _drain(self) -> None:
        """Read what the runtime wrote before its last call, so it lands before END."""
        self._read_output()

    def _emit(self, line: str) -> None:
        self._sink.write(self.config.name, line)
        if self._log is not None:
            self._log += line.encode() + b"\n"
