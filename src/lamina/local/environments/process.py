"""The process side of an execution environment, the same whichever lifecycle it runs.

An environment is a runtime process with its own Runtime API address, Lambda's variables, an init
phase that is timed, memory that is metered, and an end (exit, kill, stop) that fails whatever it was
running. :class:`EnvironmentProcess` holds all of that for both kinds of environment — one invocation
at a time (:mod:`~lamina.local.environments.environment`) and managed instances
(:mod:`~lamina.local.environments.managed`) — which own one each and differ only in how they hand out
invocations. It is the Runtime API's handler for the environment: ``/response``, ``/error`` and
``/init/error`` go through the owner's lifecycle the same way for both kinds, and what differs
(``next``, SnapStart's restore, the relay of a streamed response) is passed to the owner
(:class:`InvocationOwner`). Outcomes go back to the owner.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Awaitable, Callable, Optional, Protocol, Sequence

from lamina.local.environments import debugger
from lamina.local.environments.extensions import ExtensionHost
from lamina.local.environments.logsink import LogSink
from lamina.local.lifecycle.extensions import FAILURE, SPINDOWN
from lamina.local.lifecycle.states import (
    Deliverer,
    EnvironmentLifecycle,
    Kind,
    Outcome,
    Outcomes,
    Reply,
    State,
)
from lamina.local.model import function_errors, log_lines, telemetry_events
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.relay import StreamRelay
from lamina.local.runtime_api.server import NextAnswer, RuntimeApiServer
from lamina.local.sandbox import bubblewrap, exec_wrapper, memory, variables
from lamina.local.sandbox.containment import Containment
from lamina.local.sandbox.process import RuntimeProcess
from lamina.local.sandbox.python_runtime import PythonRuntimes, RuntimeNotInstalled
from lamina.runtime import error_types

_ENDED = (State.DEAD, State.INIT_ERROR)  # states whose process serves no more invocations


# Not frozen: one is made per invocation, and a frozen dataclass's __init__ sets each field through
# object.__setattr__ (several times the cost); nothing changes it after it is made.
@dataclass
class InvocationRecord:
    """An invocation's outcome with the figures and the log Lambda reports for it."""

    outcome: Outcome
    log: bytes  # the last 4 KB (LogResult) of START … REPORT, the runtime's output in between
    duration_ms: float
    init_duration_ms: Optional[float]
    max_memory_used_mb: int


class EnvironmentLost(Exception):
    """A warm environment died between invocations before it received the one handed to it.

    The invocation never started, so the pool runs it on a fresh environment, as Lambda would.
    """


# A memory measurement that took t seconds (in a worker thread) is followed by a pause of this many t:
# a big tree or a large process's page tables are sampled less often, so the poll stays under ~10% of
# a core whatever the environment holds.
MEASURE_PAUSE_FACTOR = 9.0

# After /init/error the runtime should exit by itself; after this long it is killed.
INIT_ERROR_GRACE = 1.0
STOP_WAIT = 5.0


class InvocationOwner(Protocol):
    """What an environment kind answers for itself: how invocations are handed out."""

    async def on_next(self) -> NextAnswer: ...

    # Whether ``next`` may be parked without a task (park_next, next_abandoned): single-invocation
    # environments; managed instances answer their several polls in turn through on_next.
    parks_next: bool

    def park_next(self, deliver: Deliverer) -> Optional[NextAnswer]: ...

    def next_abandoned(self, deliver: Deliverer) -> None: ...

    def on_restore_next(self) -> Optional[Reply]: ...

    def on_restore_error(self, body: bytes, content_type: Optional[str],
                         error_type: Optional[str]) -> Optional[Reply]: ...

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]: ...


class EnvironmentProcess:
    """One environment's runtime process, Runtime API address, init timing and memory."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 owner: InvocationOwner, lifecycle: EnvironmentLifecycle,
                 emit: Callable[[str], None], complete: Callable[[Outcomes], None],
                 on_exit: Callable[[], None], containment: Containment,
                 python: Optional[PythonRuntimes] = None) -> None:
        self.config = config
        self._python = python or PythonRuntimes()
        self._own_python = python is None  # made for this environment alone: its directories go with it
        self.id = uuid.uuid4().hex[:8]
        self.scope = containment.scope(self.id)
        self.lifecycle = lifecycle
        self.peak_memory = 0  # bytes, the highest the environment's memory was measured at
        self.init_duration_ms: Optional[float] = None
        self.spawned_at = 0.0
        self.spawn_error: Optional[str] = None
        self.exited = asyncio.Event()
        self.extensions = ExtensionHost(config, emit)  # /opt/extensions, the Extensions and Telemetry APIs
        self.extensions.on_change = self._init_step
        self.runtime = RuntimeProcess(self._runtime_line)
        self.settling: Optional[asyncio.Task[None]] = None  # extensions finishing the last invocation
        self.runtime.cgroup = self.scope.cgroup  # memory from the cgroup where it meters memory
        self._server = server
        self.owner = owner
        self._emit = emit
        self._complete = complete
        self._on_exit = on_exit
        self._address: Optional[str] = None
        self._init_reported = False
        self._measuring = False
        self._next_measure = 0.0
        self._tmp: Optional[Path] = None
        self._runtime_ready = False
        self._extensions_down: Optional[asyncio.Task[None]] = None

    @property
    def pid(self) -> Optional[int]:
        return self.runtime.pid

    @property
    def alive(self) -> bool:
        return self.runtime.started and self.lifecycle.state not in _ENDED

    async def start(self) -> None:
        """Open the Runtime API socket and start the runtime process (the init phase begins)."""
        self._address = await self._server.attach(self)
        if self.config.lamina_runtime and self.config.python_version is not None:
            # Looking for an interpreter runs it: off the event loop (once per version and serve).
            with contextlib.suppress(RuntimeNotInstalled):
                await asyncio.get_running_loop().run_in_executor(
                    None, self._python.interpreter, self.config.python_version)
        self.spawned_at = time.perf_counter()
        self._emit(log_lines.init_start(self.config.runtime_name))
        self.extensions.publish(telemetry_events.init_start(
            self.config.initialization_type, self.config.runtime_name, self.config.name, self.config.version,
            self.config.memory_mb))
        try:
            argv, env = self._command(variables.build(self.config, self._address))
            argv = exec_wrapper.wrapped(argv, self.config)
            if not await self._start_extensions(env):
                self.kill()
                await self._spawn_failed(str(self.extensions.state.failure_message))
                return
            await self.runtime.spawn(argv, self.config.code_dir, env, preexec=self.scope.preexec())
        except RuntimeNotInstalled as missing:
            await self._spawn_failed(str(missing))
            return
        except OSError as exc:
            await self._spawn_failed(f"fork/exec {exc.filename or self.config.command()[0]}: {exc.strerror}")
            return
        asyncio.get_running_loop().create_task(self._watch_exit())

    async def _spawn_failed(self, error: str) -> None:
        self.spawn_error = error
        self._emit(f"Error: {error}")
        self.lifecycle.shut_down()
        assert self._address is not None
        await self._server.detach(self._address)
        self._ended()

    async def outcome_of(self, result: asyncio.Future[Outcome], warm: bool,
                         began: Callable[[], bool]) -> Outcome:
        """Wait for an invocation's outcome.

        The caller going away for good (server shutdown) resets the environment; a warm environment
        that died before the invocation ``began`` raises :class:`EnvironmentLost`.
        """
        try:
            outcome = await result
        except asyncio.CancelledError:
            self.kill()
            raise
        if warm and outcome.kind is Kind.EXIT and not began():
            self.runtime.read()
            raise EnvironmentLost(outcome.request_id)
        return outcome

    def _command(self, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The runtime's argv and variables in this environment's sandbox mode.

        bubblewrap gives it its own ``/tmp``; in path mode it gets a private directory of its own as
        ``TMPDIR`` (removed with the environment), since Lambda never shares ``/tmp`` between
        environments.
        """
        env.update(self.scope.variables())
        if self.config.sandbox == "bwrap":
            env.pop("TMPDIR", None)  # the host's; the sandbox has its own /tmp
            return self._bwrap_command(env)
        if self.config.lamina_runtime:  # raises RuntimeNotInstalled before anything is made
            argv, env = self._python.command(self.config, {**env, **self.config.environment})
        else:
            argv, env = self.config.command(), {**env, **self.config.environment}
        argv, env = debugger.wrap(self.config, argv, env)
        self._tmp = Path(tempfile.mkdtemp(prefix=f"lamina-{self.config.name}-"))
        private = {name: str(self._tmp) for name in ("TMPDIR", "TMP", "TEMP")
                   if name not in self.config.environment}  # the function's own setting wins
        return argv, {**env, **private}

    def _bwrap_command(self, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
        """The runtime under bubblewrap; lamina's on the function's Python, its packages in /var/runtime."""
        config = self.config
        if not config.lamina_runtime:
            argv, extra = bubblewrap.wrap(config.command(), config.code_dir, config.opt_dir,
                                          config.ephemeral_storage_mb)
            return argv, {**env, **extra, **config.environment}
        command, env = self._python.command(config, {**env, **config.environment},
                                            runtime_dirs=[bubblewrap.RUNTIME_DIR])
        interpreter = self._python.interpreter(config.python_version or "")
        argv, extra = bubblewrap.wrap(command, config.code_dir, config.opt_dir, config.ephemeral_storage_mb,
                                      python_prefix=interpreter.base_prefix,
                                      runtime_packages=self._python.packages())
        return argv, {**env, **extra}

    async def _start_extensions(self, env: dict[str, str]) -> bool:
        """The init phase's first part: each extension starts and registers; False if one failed."""
        host = self.extensions
        if not host.paths:
            return True
        keep = tuple(self.scope.variables())
        await host.launch(variables.for_extensions(env, keep), self.config.code_dir, self.scope.preexec(),
                          self._sandboxed)
        if not await host.wait(lambda: host.state.all_registered, self.config.init_timeout):
            host.state.fail(error_types.SANDBOX_TIMEDOUT, "Extensions did not register in time")
        return host.state.failure is None

    def _sandboxed(self, argv: Sequence[str]) -> tuple[list[str], dict[str, str]]:
        """An extension's command in the environment's sandbox (the runtime's view of /var/task and /opt)."""
        if self.config.sandbox != "bwrap":
            return list(argv), {}
        config = self.config
        return bubblewrap.wrap(argv, config.code_dir, config.opt_dir, config.ephemeral_storage_mb)

    def pids(self) -> list[int]:
        """The environment's live processes (whose connections the Runtime API answers)."""
        found = set(self.scope.pids())
        for pid in (self.pid, *self.extensions.pids()):
            if pid is not None:
                found.update(memory.process_tree(pid))
        return sorted(found)

    def spawn_failure(self, request_id: str) -> Optional[Outcome]:
        """How an invocation ends on an environment whose runtime could not start, if it could not."""
        failure = self.extensions.failure_outcome(request_id)
        if failure is not None:
            return failure
        if self.spawn_error is None:
            return None
        message = f"RequestId: {request_id} Error: {self.spawn_error}"
        document = function_errors.document(error_types.INVALID_ENTRYPOINT, message)
        return Outcome(request_id, Kind.EXIT, document, error_type=error_types.INVALID_ENTRYPOINT)

    def init_finished(self) -> None:
        """The runtime's first ``next`` (or its init error); with every extension's ``next`` too, the init
        phase is over and its duration known."""
        self.extensions.state.close_registration()
        self._runtime_ready = True
        self._init_step()

    def _init_step(self) -> None:
        if self.init_duration_ms is not None or not self._runtime_ready:
            return
        if self.extensions.active and not self.extensions.state.init_done:
            return
        self.init_duration_ms = (time.perf_counter() - self.spawned_at) * 1000
        if self.extensions.active:
            self.extensions.init_complete(self.init_duration_ms)
        else:  # no extension can subscribe any more: the init phase's events are not kept
            self.extensions.backlog.close()

    def _runtime_line(self, line: str) -> None:
        self._emit(line)
        self.extensions.function_line(line)

    def reset(self, reason: str) -> None:
        """End the environment after a failure: the runtime now, extensions after ``SHUTDOWN``."""
        self.runtime.kill()
        self._shut_extensions(reason)

    def _shut_extensions(self, reason: str) -> asyncio.Task[None]:
        if self._extensions_down is None:
            self._extensions_down = asyncio.get_running_loop().create_task(
                self.extensions.shutdown(reason, self.kill))
        return self._extensions_down

    # --- the Runtime API (RuntimeApiHandler) ------------------------------------------------------

    def on_next(self) -> Awaitable[NextAnswer]:
        return self.owner.on_next()  # the owner's coroutine itself: no frame of its own between

    @property
    def parks_next(self) -> bool:
        return self.owner.parks_next

    def park_next(self, deliver: Deliverer) -> Optional[NextAnswer]:
        return self.owner.park_next(deliver)

    def next_abandoned(self, deliver: Deliverer) -> None:
        self.owner.next_abandoned(deliver)

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
        return self.init_error(*self.lifecycle.init_error_posted(body, content_type, error_type))

    def on_restore_next(self) -> Optional[Reply]:
        return self.owner.on_restore_next()

    def on_restore_error(self, body: bytes, content_type: Optional[str],
                         error_type: Optional[str]) -> Optional[Reply]:
        return self.owner.on_restore_error(body, content_type, error_type)

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]:
        return self.owner.stream_relay(request_id)

    # --- the init phase -------------------------------------------------------------------------

    def init_error(self, reply: Reply, ended: Outcomes) -> Reply:
        """After ``/init/error``: the runtime gets a moment to exit by itself, then it is killed."""
        if reply.status == 202:
            self.init_finished()
            asyncio.get_running_loop().call_later(INIT_ERROR_GRACE, self.kill)
        self._complete(ended)
        return reply

    def take_init_ms(self) -> Optional[float]:
        """The init duration, for the first invocation's REPORT only (None on every later one)."""
        if self._init_reported:
            return None
        self._init_reported = True
        if self.init_duration_ms is not None:
            return self.init_duration_ms
        return (time.perf_counter() - self.spawned_at) * 1000 if self.spawned_at else 0.0

    def used_mb(self, outcome: Outcome, first: bool) -> int:
        """``Max Memory Used`` for an invocation's REPORT."""
        if outcome.kind is Kind.OUT_OF_MEMORY:
            return self.config.memory_mb
        pid = self.pid
        if first and pid is not None and self.alive:
            # Once per environment (a first invocation may end before any sample); later peaks come
            # from the periodic memory check, which keeps /proc reads off the invocation path.
            usage = memory.measure(pid, self.runtime.cgroup)
            self.peak_memory = max(self.peak_memory, usage.peak)
        return memory.to_mb(self.peak_memory)

    def check_memory(self) -> None:
        """Called periodically: measure the environment's memory in a worker thread; the environment
        is killed when it is above its memory size (:meth:`_measured`).

        One measurement at a time per environment, each followed by a pause in proportion to what it
        cost (:data:`MEASURE_PAUSE_FACTOR`).
        """
        pid = self.pid
        if pid is None or not self.alive or self._measuring:
            return
        loop = asyncio.get_running_loop()
        started = loop.time()
        if started < self._next_measure:
            return
        self._measuring = True
        measured = loop.run_in_executor(None, memory.measure, pid, self.runtime.cgroup)
        measured.add_done_callback(lambda done: self._measured(done, pid, started))

    def _measured(self, done: asyncio.Future[memory.Usage], pid: int, started: float) -> None:
        self._measuring = False
        now = asyncio.get_running_loop().time()
        self._next_measure = now + MEASURE_PAUSE_FACTOR * (now - started)
        if done.cancelled() or done.exception() is not None or pid != self.pid or not self.alive:
            return
        usage = done.result()
        self.peak_memory = max(self.peak_memory, usage.current, usage.peak)
        if usage.current > self.config.memory_mb * 1024 * 1024:
            self.lifecycle.memory_exceeded()
            self.kill()

    def kill(self) -> None:
        """End every process of the environment, as Lambda resets a sandbox."""
        self.runtime.kill()
        self.scope.kill_all()

    async def stop(self) -> None:
        """Shut the environment down (idle timeout, config change, server exit): extensions finish the
        last invocation and get ``SHUTDOWN`` first."""
        if self.settling is not None:
            await asyncio.wait([self.settling], timeout=self.config.timeout)
        if self.alive:
            await self._shut_extensions(SPINDOWN)
        self.lifecycle.shut_down()
        self.kill()
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.exited.wait(), STOP_WAIT)

    async def _watch_exit(self) -> None:
        returncode = await self.runtime.wait()
        self._complete(self.lifecycle.process_exited(returncode))
        await self._shut_extensions(FAILURE)  # no-op without extensions, or when they are already told
        self.kill()  # anything the runtime left behind in its session goes with it
        await self.extensions.close()
        if self._address is not None:
            await self._server.detach(self._address)
        self._ended()

    def _ended(self) -> None:
        self.scope.close()
        if self._own_python:
            self._python.close()
        if self._tmp is not None:
            shutil.rmtree(self._tmp, ignore_errors=True)
            self._tmp = None
        self.exited.set()
        self._on_exit()
