"""Lambda Managed Instances locally: one execution environment runs up to N invocations at once.

``lamina serve --max-concurrency N`` starts the function's environment with
``AWS_LAMBDA_MAX_CONCURRENCY=N`` and ``AWS_LAMBDA_INITIALIZATION_TYPE=lambda-managed-instances``; its
runtime then keeps N ``next`` long-polls open, and each gets a different invocation. Responses are
matched to their invocations by request id (:class:`~lamina.local.lifecycle.managed.ManagedLifecycle`).

:class:`ManagedEnvironment` owns the same :class:`~lamina.local.environments.process.EnvironmentProcess`
as a one-at-a-time environment (process, output, memory and exit handling) and keeps its invocation
bookkeeping per request id: each invocation has its own timer, its own START/END/REPORT lines and its
own log tail, made of the lines that name its request id (managed instances log in JSON, where every record
carries it). The pool shares such an environment among invocations up to its capacity.
"""

from __future__ import annotations

import asyncio
import collections
import time
from dataclasses import dataclass, field
from typing import Callable, Optional

from lamina.local.environments.log_tail import LogTail
from lamina.local.environments.logsink import LogSink
from lamina.local.environments.process import EnvironmentProcess, InvocationRecord
from lamina.local.environments.report import write_report
from lamina.local.lifecycle.managed import ManagedLifecycle
from lamina.local.lifecycle.states import Deliverer, Invocation, Outcome, Outcomes, Reply, State, outcomes
from lamina.local.model import log_lines
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.relay import StreamRelay
from lamina.local.runtime_api.server import NextAnswer, RuntimeApiServer
from lamina.local.sandbox.containment import Containment
from lamina.local.sandbox.python_runtime import PythonRuntimes


@dataclass
class _Run:
    """One invocation in a managed environment, from assignment to its outcome."""

    invocation: Invocation
    result: asyncio.Future[Outcome]
    timer: Optional[asyncio.TimerHandle] = None
    began_at: Optional[float] = None
    log: LogTail = field(default_factory=LogTail)


class ManagedEnvironment:
    """An execution environment serving up to ``config.environment_concurrency`` invocations at once."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 containment: Containment,
                 on_exit: Optional[Callable[[ManagedEnvironment], None]] = None,
                 python: Optional[PythonRuntimes] = None) -> None:
        self.config = config
        self.lifecycle = ManagedLifecycle(config.environment_concurrency or 1)
        self.last_used = time.monotonic()
        self.process = EnvironmentProcess(config, server, sink, self, self.lifecycle, self._emit,
                                          self._complete, lambda: on_exit(self) if on_exit else None,
                                          containment, python)
        self._sink = sink
        self._runs: dict[str, _Run] = {}
        self._polls: collections.deque[asyncio.Future[tuple[Invocation, int]]] = collections.deque()

    @property
    def available(self) -> bool:
        return self.process.alive and self.lifecycle.available

    @property
    def busy(self) -> bool:
        return bool(self._runs)

    async def run(self, invocation: Invocation) -> InvocationRecord:
        loop = asyncio.get_running_loop()
        run = _Run(invocation, loop.create_future())
        self._runs[invocation.request_id] = run
        warm = self.lifecycle.init_done
        try:
            failure = self.process.spawn_failure(invocation.request_id)
            if failure is not None:
                run.result.set_result(failure)
            else:
                if not warm:  # the init phase's time counts against a waiting invocation too
                    run.timer = loop.call_later(self.config.init_timeout + invocation.timeout,
                                                self._timed_out_run, invocation.request_id)
                self.lifecycle.assign(invocation)
                self._hand_out()
            outcome = await self.process.outcome_of(run.result, warm, lambda: run.began_at is not None)
            return self._report_run(run, outcome)
        finally:
            if run.timer is not None:
                run.timer.cancel()
            self._runs.pop(invocation.request_id, None)

    # --- Runtime API ------------------------------------------------------------------------------

    parks_next = False  # several polls at once, answered in turn: each waits in on_next

    def park_next(self, deliver: Deliverer) -> Optional[NextAnswer]:
        raise NotImplementedError("managed instances' polls wait in on_next")

    def next_abandoned(self, deliver: Deliverer) -> None:
        pass

    async def on_next(self) -> NextAnswer:
        # Shared environments answer their polls in turn.
        was_init = self.lifecycle.state is State.INIT
        refused = self.lifecycle.next_requested()
        if was_init and self.lifecycle.init_done:
            self.process.init_finished()
        if refused is not None:
            return refused
        invocation = self.lifecycle.take()
        if invocation is not None:
            return self._begin(invocation)
        poll: asyncio.Future[tuple[Invocation, int]] = asyncio.get_running_loop().create_future()
        self._polls.append(poll)
        try:
            return await poll
        finally:
            if poll in self._polls:
                self._polls.remove(poll)

    def on_restore_next(self) -> Optional[Reply]:
        return None  # managed instances are not restored from snapshots

    def on_restore_error(self, body: bytes, content_type: Optional[str],
                         error_type: Optional[str]) -> Optional[Reply]:
        return None

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]:
        invocation = self.lifecycle.running.get(request_id)
        relay = invocation.relay if invocation is not None else None
        return relay if isinstance(relay, StreamRelay) else None

    # --- internals -------------------------------------------------------------------------------

    def _hand_out(self) -> None:
        """Give pending invocations to pollers that are waiting."""
        while self._polls:
            poll = self._polls.popleft()
            if poll.done():
                continue
            invocation = self.lifecycle.take()
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
        self._complete(self.lifecycle.timed_out(request_id))

    def _complete(self, ended: Outcomes) -> None:
        for outcome in outcomes(ended):
            run = self._runs.get(outcome.request_id)
            if run is None:
                continue
            if run.timer is not None:
                run.timer.cancel()
                run.timer = None
            if not run.result.done():
                run.result.set_result(outcome)

    def _report_run(self, run: _Run, outcome: Outcome) -> InvocationRecord:
        self.process.runtime.read()
        now = time.perf_counter()
        duration_ms = (now - (run.began_at or now)) * 1000
        init_ms = self.process.take_init_ms()
        used_mb = self.process.used_mb(outcome, first=init_ms is not None)
        write_report(self._emit, run.invocation, outcome, version=self.config.version,
                     memory_mb=self.config.memory_mb, used_mb=used_mb, duration_ms=duration_ms,
                     init_ms=init_ms, started=run.began_at is not None)
        self.last_used = time.monotonic()
        return InvocationRecord(outcome, run.log.value(), duration_ms, init_ms, used_mb)

    def _emit(self, line: str) -> None:
        """To the terminal, and to the log of each invocation the line names (its request id)."""
        self._sink.write(self.config.name, line)
        for request_id, run in self._runs.items():
            if request_id in line:
                run.log.append(line)
