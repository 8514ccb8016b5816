"""Lambda Managed Instances locally: one execution environment runs up to N invocations at once.

``lamina serve --max-concurrency N`` starts the function's environment with
``AWS_LAMBDA_MAX_CONCURRENCY=N`` and ``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``; its
runtime then keeps N ``next`` long-polls open, and each gets a different invocation. Responses are
matched to their invocations by request id (:class:`~lamina.local.lifecycle.managed.ManagedLifecycle`).

:class:`ManagedEnvironment` is an :class:`ExecutionEnvironment` (same process, output, memory and exit
handling) whose invocation bookkeeping is per request id: each invocation has its own timer, its own
START/END/REPORT lines and its own log, made of the lines that name its request id (managed instances
log in JSON, where every record carries it). :class:`ManagedInstancePool` shares an environment among
invocations up to its capacity instead of handing it to one at a time.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Optional, Sequence, Union

from lamina.local.environments.environment import EnvironmentLost, ExecutionEnvironment, InvocationRecord
from lamina.local.environments.logsink import LogSink
from lamina.local.environments.pool import FunctionPool
from lamina.local.lifecycle.managed import ManagedLifecycle
from lamina.local.lifecycle.single import Invocation, Kind, Outcome, Reply, State
from lamina.local.model import function_errors, log_lines
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.server import RuntimeApiServer
from lamina.local.sandbox import memory
from lamina.runtime import error_types


@dataclass
class _Run:
    """One invocation in a managed environment, from assignment to its outcome."""

    invocation: Invocation
    result: asyncio.Future[Outcome]
    timer: Optional[asyncio.TimerHandle] = None
    began_at: Optional[float] = None
    log: bytearray = field(default_factory=bytearray)


class ManagedEnvironment(ExecutionEnvironment):
    """An execution environment serving up to ``config.environment_concurrency`` invocations at once."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 **kwargs: object) -> None:
        super().__init__(config, server, sink, **kwargs)  # type: ignore[arg-type]
        self._managed = ManagedLifecycle(config.environment_concurrency or 1)
        # The base class's process handling (exit, memory, init error) goes through the same object.
        self.lifecycle = self._managed  # type: ignore[assignment]
        self._runs: dict[str, _Run] = {}
        self._polls: collections.deque[asyncio.Future[tuple[Invocation, int]]] = collections.deque()

    @property
    def busy(self) -> bool:
        return bool(self._runs)

    async def run(self, invocation: Invocation) -> InvocationRecord:
        loop = asyncio.get_running_loop()
        run = _Run(invocation, loop.create_future())
        self._runs[invocation.request_id] = run
        warm = self._managed.init_done
        try:
            if self._spawn_error is not None:
                message = f"RequestId: {invocation.request_id} Error: {self._spawn_error}"
                document = function_errors.document(error_types.INVALID_ENTRYPOINT, message)
                run.result.set_result(Outcome(invocation.request_id, Kind.EXIT, document,
                                              error_type=error_types.INVALID_ENTRYPOINT))
            else:
                if not warm:  # the init phase's time counts against a waiting invocation too
                    run.timer = loop.call_later(self.config.init_timeout + invocation.timeout,
                                                self._timed_out_run, invocation.request_id)
                self._managed.assign(invocation)
                self._hand_out()
            try:
                outcome = await run.result
            except asyncio.CancelledError:
                self.kill()
                raise
            if warm and outcome.kind is Kind.EXIT and run.began_at is None:
                raise EnvironmentLost(outcome.request_id)
            return self._report_run(run, outcome)
        finally:
            if run.timer is not None:
                run.timer.cancel()
            self._runs.pop(invocation.request_id, None)

    def stream_relay(self, request_id: str) -> Optional[object]:
        """The relay of a running invocation (lamina.local.invoke.streaming asks by request id)."""
        invocation = self._managed.running.get(request_id)
        return invocation.relay if invocation is not None else None

    # --- Runtime API ------------------------------------------------------------------------------

    async def on_next(self) -> Union[Reply, tuple[Invocation, int]]:
        was_init = self._managed.state is State.INIT
        refused = self._managed.next_requested()
        if was_init and self._managed.init_done:
            self.init_duration_ms = (time.perf_counter() - self._spawned_at) * 1000
        if refused is not None:
            return refused
        invocation = self._managed.take()
        if invocation is not None:
            return self._begin(invocation)
        poll: asyncio.Future[tuple[Invocation, int]] = asyncio.get_running_loop().create_future()
        self._polls.append(poll)
        try:
            return await poll
        finally:
            if poll in self._polls:
                self._polls.remove(poll)

    # /response and /error: ExecutionEnvironment's, on the managed lifecycle (self.lifecycle).

    # --- internals -------------------------------------------------------------------------------

    def _hand_out(self) -> None:
        """Give pending invocations to pollers that are waiting."""
        while self._polls:
            poll = self._polls.popleft()
            if poll.done():
                continue
            invocation = self._managed.take()
            if invocation is None:
                self._polls.appendleft(poll)
                return
            poll.set_result(self._begin(invocation))

    def _begin(self, invocation: Invocation) -> tuple[Invocation, int]:
        run = self._runs.get(invocation.request_id)
        if run is not None:
            run.began_at = time.perf_counter()
            if run.timer is not None:
                run.timer.cancel()
            run.timer = asyncio.get_running_loop().call_later(invocation.timeout, self._timed_out_run,
                                                              invocation.request_id)
        self._emit(log_lines.start(invocation.request_id, self.config.version))
        return invocation, int(time.time() * 1000 + invocation.timeout * 1000)

    def _timed_out_run(self, request_id: str) -> None:
        self._complete(self._managed.timed_out(request_id))

    def _complete(self, outcome: Union[Outcome, Sequence[Outcome], None]) -> None:
        outcomes = [outcome] if isinstance(outcome, Outcome) else list(outcome or ())
        for each in outcomes:
            run = self._runs.get(each.request_id)
            if run is None:
                continue
            if run.timer is not None:
                run.timer.cancel()
                run.timer = None
            if not run.result.done():
                run.result.set_result(each)

    def _report_run(self, run: _Run, outcome: Outcome) -> InvocationRecord:
        self._drain()
        request_id = run.invocation.request_id
        now = time.perf_counter()
        duration_ms = (now - (run.began_at or now)) * 1000
        init_ms: Optional[float] = None
        if not self._init_reported:
            self._init_reported = True
            init_ms = self.init_duration_ms if self.init_duration_ms is not None else 0.0
        used_mb = self.config.memory_mb if outcome.kind is Kind.OUT_OF_MEMORY else memory.to_mb(self.peak_rss)
        if run.began_at is None:
            self._emit(log_lines.start(request_id, self.config.version))
        status = None
        if outcome.kind is Kind.TIMEOUT:
            message = function_errors.timeout_message(run.invocation.timeout)
            self._emit(log_lines.timed_out(request_id, message))
            status = "timeout"
        elif outcome.kind in (Kind.EXIT, Kind.OUT_OF_MEMORY, Kind.INIT_ERROR, Kind.RESPONSE_TOO_LARGE):
            status = "error"
        self._emit(log_lines.end(request_id))
        self._emit(log_lines.report(log_lines.Report(
            request_id, duration_ms, self.config.memory_mb, used_mb, init_ms, status,
            outcome.error_type if status == "error" else None)))
        self.last_used = time.monotonic()
        return InvocationRecord(outcome, bytes(run.log), duration_ms, init_ms, used_mb)

    def _emit(self, line: str) -> None:
        """To the terminal, and to the log of each invocation the line names (its request id)."""
        self._sink.write(self.config.name, line)
        encoded = None
        for request_id, run in self._runs.items():
            if request_id in line:
                encoded = encoded or line.encode() + b"\n"
                run.log += encoded


class ManagedInstancePool(FunctionPool):
    """Environments of a managed-instances function: each takes invocations up to its capacity."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink) -> None:
        super().__init__(config, server, sink)
        self._slots = config.concurrency * (config.environment_concurrency or 1)
        self._starting = asyncio.Lock()

    async def _environment(self) -> ExecutionEnvironment:
        async with self._starting:  # invocations arriving together share the environment being started
            for env in self._environments:
                if env.available:
                    return env
            env = ManagedEnvironment(self.config, self._server, self._sink, on_exit=self._forget)
            self._environments.add(env)
            await env.start()
            return env

    async def retire(self) -> None:
        """A new configuration takes over: idle environments stop now, busy ones when they finish."""
        self._closed = True
        idle = [env for env in self._environments if not getattr(env, "busy", False)]
        await asyncio.gather(*(env.stop() for env in idle))

    def _put_back(self, env: ExecutionEnvironment) -> None:
        if env.alive and not (self._closed and not getattr(env, "busy", False)):
            return  # it stays shared; idle reaping does not apply to managed instances
        if env.alive:
            task = asyncio.get_running_loop().create_task(env.stop())
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)
