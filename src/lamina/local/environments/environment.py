"""One execution environment running one invocation at a time, as on-demand Lambda runs them.

It owns an :class:`~lamina.local.environments.process.EnvironmentProcess` (the runtime process, its
Runtime API address, init timing, memory) and a :class:`~lamina.local.lifecycle.single.Lifecycle`, and
does the rest: hands an invocation to the runtime's ``next``, enforces the init and invocation
timeouts, answers the runtime's posts through the lifecycle, and writes START/END/REPORT around each
invocation's output.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Callable, Optional

from lamina.local.environments import debugger
from lamina.local.environments.log_tail import LogTail
from lamina.local.environments.logsink import LogSink
from lamina.local.environments.process import EnvironmentLost, EnvironmentProcess, InvocationRecord
from lamina.local.environments.report import write_report
from lamina.local.lifecycle.extensions import FAILURE, TIMEOUT
from lamina.local.lifecycle.single import Lifecycle
from lamina.local.lifecycle.states import (
    Deliver,
    Deliverer,
    Invocation,
    Kind,
    Outcome,
    Outcomes,
    Reply,
    State,
    Wait,
    outcomes,
)
from lamina.local.model import function_errors, log_lines
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.relay import StreamRelay
from lamina.local.runtime_api.server import NextAnswer, RuntimeApiServer
from lamina.local.sandbox.containment import Containment
from lamina.local.sandbox.python_runtime import PythonRuntimes
from lamina.runtime import error_types

# Invocations the runtime itself ended (its result or its error posted): nothing else happens to the
# environment before their END/REPORT, so those may follow the caller's answer.
_ANSWERED = (Kind.RESPONSE, Kind.ERROR)


class ExecutionEnvironment:
    """A runtime process serving one function, one invocation at a time."""

    def __init__(self, config: FunctionConfig, server: RuntimeApiServer, sink: LogSink,
                 containment: Containment,
                 on_exit: Optional[Callable[[ExecutionEnvironment], None]] = None,
                 python: Optional[PythonRuntimes] = None) -> None:
        self.config = config
        self.lifecycle = Lifecycle(snap_start=config.snap_start)
        self.last_used = time.monotonic()
        self.process = EnvironmentProcess(config, server, sink, self, self.lifecycle, self._emit,
                                          self._complete, lambda: on_exit(self) if on_exit else None,
                                          containment, python)
        self._sink = sink
        self._poll: Optional[asyncio.Future[tuple[Invocation, int]]] = None
        self._deliver: Optional[Deliverer] = None  # the parked poll's writer (park_next)
        self._event_loop: Optional[asyncio.AbstractEventLoop] = None
        self._result: Optional[asyncio.Future[Outcome]] = None
        self._timer: Optional[asyncio.TimerHandle] = None
        self._log: Optional[LogTail] = None  # while an invocation runs
        self._started_line = False
        self._began_at: Optional[float] = None
        self._deadline_ms = 0
        self._invoke_deadline: Optional[float] = None  # set when init overran into the invoke phase
        # An invocation whose caller wants no log: its END/REPORT, written once its answer is out.
        self._unreported: Optional[tuple[Invocation, InvocationRecord]] = None
        self.process.extensions.on_failure = self._extension_failed

    def _loop(self) -> asyncio.AbstractEventLoop:
        """The event loop this environment lives on (asking asyncio costs a system call each time)."""
        loop = self._event_loop
        if loop is None:
            loop = self._event_loop = asyncio.get_running_loop()
        return loop

    @property
    def available(self) -> bool:
        return self.process.alive and self.lifecycle.available

    async def run(self, invocation: Invocation) -> InvocationRecord:
        """Run one invocation to its end (response, error, timeout, crash) and report it."""
        if self.process.settling is not None:  # extensions still at work on the last invocation
            await asyncio.wait([self.process.settling])
        self._report_pending()  # the last invocation's END/REPORT before anything of this one
        loop = self._loop()
        self._result = loop.create_future()
        self._log = LogTail() if invocation.log_wanted else None  # LogResult, for a caller who asked
        self._started_line = False
        self._began_at = None
        self._invoke_deadline = None
        warm = self.lifecycle.init_done
        failure = self.process.spawn_failure(invocation.request_id)
        if failure is None and self.lifecycle.state is State.INIT and self.process.extensions.active:
            failure = await self._extensions_initialised(invocation)
        if failure is not None:
            self._result.set_result(failure)
        else:
            cold = self.lifecycle.state is State.INIT
            deliver = self.lifecycle.assign(invocation)
            if deliver is not None:
                self._hand_over(deliver.invocation)
            elif cold:
                remaining = self.config.init_timeout - (time.perf_counter() - self.process.spawned_at)
                self._timer = loop.call_later(max(remaining, 0.0), self._init_timed_out)
        try:
            outcome = await self.process.outcome_of(self._result, warm, lambda: self._began_at is not None)
        except EnvironmentLost:
            self._log = None
            raise
        return self._report(invocation, outcome)

    # --- Runtime API (called by RuntimeApiServer) --------------------------------------------------

    parks_next = True  # the Runtime API may park this environment's ``next`` without a task

    async def on_next(self) -> NextAnswer:
        """``next`` in a task (the Runtime API parks it without one: :meth:`park_next`)."""
        answer = self._next_answer()
        if answer is not None:
            return answer
        self._poll = self._loop().create_future()
        try:
            return await self._poll
        except asyncio.CancelledError:
            self.lifecycle.poll_abandoned()
            raise
        finally:
            self._poll = None

    def park_next(self, deliver: Deliverer) -> Optional[NextAnswer]:
        """``next`` answered without a task: a refusal or the waiting invocation now, or None: the poll
        is parked, and ``deliver`` writes the event when an invocation is handed over."""
        answer = self._next_answer()
        if answer is None:
            self._deliver = deliver
        return answer

    def next_abandoned(self, deliver: Deliverer) -> None:
        """The parked poll's connection closed before an invocation came."""
        if self._deliver is deliver and self._poll is None:
            self._deliver = None
            self.lifecycle.poll_abandoned()

    def _next_answer(self) -> Optional[NextAnswer]:
        """What ``next`` gets now (a refusal, or the invocation waiting for it); None: it waits."""
        restored_ms = self.lifecycle.restore_finished(time.perf_counter())
        if restored_ms is not None:
            self._emit(log_lines.restore_report(restored_ms))
        was_init = self.lifecycle.state is State.INIT
        action = self.lifecycle.next_requested()
        if was_init and self.lifecycle.init_done:
            self.process.init_finished()
            if self._timer is not None and self._began_at is None:
                self._timer.cancel()
                self._timer = None
        if isinstance(action, Reply):
            return action
        if isinstance(action, Deliver):
            return self._hand_over(action.invocation)
        assert isinstance(action, Wait)
        return None

    def on_restore_next(self) -> Optional[Reply]:
        reply, began = self.lifecycle.restore_next(time.perf_counter())
        if began:
            self._emit(log_lines.restore_start(self.config.runtime_name))
        return reply

    def on_restore_error(self, body: bytes, content_type: Optional[str],
                         error_type: Optional[str]) -> Optional[Reply]:
        now = time.perf_counter()
        error_type = error_type or error_types.AFTER_RESTORE_ERROR
        restored_ms = self.lifecycle.restore_finished(now)
        if restored_ms is not None:
            self._emit(log_lines.restore_report(restored_ms, error_type))
        ended = self.lifecycle.restore_error_posted(now, body, content_type, error_type)
        return None if ended is None else self.process.init_error(*ended)

    def stream_relay(self, request_id: str) -> Optional[StreamRelay]:
        current = self.lifecycle.current
        if current is None or not self.lifecycle.delivered or current.request_id != request_id:
            return None
        return current.relay if isinstance(current.relay, StreamRelay) else None

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
            self._timer = self._loop().call_later(remaining, self._timed_out)
            self._deadline_ms = int(time.time() * 1000 + remaining * 1000)
        if self._poll is not None and not self._poll.done():
            self._poll.set_result((invocation, self._deadline_ms))  # a poll in a task (on_next)
        elif self._deliver is not None:  # a parked poll (park_next): its event is written now
            deliver, self._deliver = self._deliver, None
            deliver(invocation, self._deadline_ms)
        if starting:
            # After waking the poll: the sink writes in the order it was called to, and the runtime
            # waiting for this invocation should not wait for the START line to reach the terminal.
            self._emit(log_lines.start(invocation.request_id, self.config.version))
            self._started_line = True
            self.process.extensions.invocation_started(invocation, self._deadline_ms, self.config.version)
        return invocation, self._deadline_ms

    async def _extensions_initialised(self, invocation: Invocation) -> Optional[Outcome]:
        """Init ends when every extension called ``next`` too; how the invocation ends if one failed."""
        host = self.process.extensions
        remaining = self.config.init_timeout - (time.perf_counter() - self.process.spawned_at)
        if await host.wait(lambda: host.state.init_done or host.state.failure is not None, remaining):
            return host.failure_outcome(invocation.request_id)
        self.process.reset(TIMEOUT)
        document = function_errors.timed_out(invocation.request_id, self.config.init_timeout)
        return Outcome(invocation.request_id, Kind.TIMEOUT, document, error_type=error_types.SANDBOX_TIMEDOUT)

    def _extension_failed(self, error_type: str, message: str) -> None:
        """An extension crashed or reported an error: the running invocation fails with it (its
        response, if already sent, stands) and the environment is reset."""
        current = self.lifecycle.current
        self.lifecycle.shut_down()
        if current is not None:
            failure = self.process.extensions.failure_outcome(current.request_id)
            kind = Kind.INIT_ERROR if not self.lifecycle.init_done else Kind.EXIT
            self._complete(replace(failure, kind=kind) if failure is not None else None)
        self.process.reset(FAILURE)

    def _init_timed_out(self) -> None:
        # Lambda retries an init that overran its 10 s inside the invoke phase, under the function's
        # timeout; the runtime keeps going here, and the function timeout now applies.
        current = self.lifecycle.current
        if self.lifecycle.state is State.INIT and current is not None:
            self._invoke_deadline = time.perf_counter() + current.timeout
            self._timer = self._loop().call_later(current.timeout, self._timed_out)

    def _timed_out(self) -> None:
        self._timer = None
        if self._debugger_holds():
            self._timer = self._loop().call_later(debugger.RECHECK_SECONDS, self._timed_out)
            return
        outcome = self.lifecycle.timed_out()
        self.process.reset(TIMEOUT)
        self._complete(outcome)

    def _debugger_holds(self) -> bool:
        """A debugger attached (or, with --debug-port, still awaited by the init): the timeout waits."""
        config = self.config
        if config.debug_port is None and config.debug_terminal is None:
            return False
        awaited = config.debug_port is not None and not self.lifecycle.init_done
        return awaited or debugger.attached(config.debug_port, config.debug_terminal, self.process.pids())

    def _complete(self, ended: Outcomes) -> None:
        for outcome in outcomes(ended):
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            if self._result is not None and not self._result.done():
                self._result.set_result(outcome)

    def _report(self, invocation: Invocation, outcome: Outcome) -> InvocationRecord:
        now = time.perf_counter()
        duration_ms = (now - (self._began_at or now)) * 1000
        init_ms = self.process.take_init_ms()
        used_mb = self.process.used_mb(outcome, first=init_ms is not None)
        record = InvocationRecord(outcome, b"", duration_ms, init_ms, used_mb)
        host = self.process.extensions
        host.runtime_done(invocation, outcome, duration_ms)
        if not invocation.log_wanted and outcome.kind in _ANSWERED and not host.active:
            # Nothing the caller receives depends on END/REPORT: they follow its answer (the next
            # loop step, or the start of the next invocation here, whichever comes first).
            self._log = None
            self._unreported = (invocation, record)
            self._loop().call_soon(self._report_pending)
            return record
        # What the runtime wrote before its last call lands before END, a partial line included.
        self.process.runtime.end_line()
        if host.working_on(outcome) and self.process.alive:
            # The caller has its response; the invocation ends when the extensions are done with it.
            log = self._log.value() if self._log is not None else b""
            self._log = None
            self.process.settling = self._loop().create_task(self._settle(invocation, record))
            return replace(record, log=log)
        self._write_report(invocation, record)
        log = self._log.value() if self._log is not None else b""
        self._log = None
        return replace(record, log=log)

    def _report_pending(self) -> None:
        """Write the END/REPORT of the invocation whose caller wanted no log, if not written yet."""
        if self._unreported is None:
            return
        (invocation, record), self._unreported = self._unreported, None
        self.process.runtime.end_line()  # its output, a partial line included, before its END
        self._write_report(invocation, record)

    async def _settle(self, invocation: Invocation, record: InvocationRecord) -> None:
        """Wait for every INVOKE extension's ``next`` (up to the invocation's deadline), then report."""
        host = self.process.extensions
        began = time.perf_counter()
        remaining = self._deadline_ms / 1000 - time.time()
        if not await host.wait(lambda: host.state.invoke_done, remaining):
            self.lifecycle.shut_down()
            self.process.reset(TIMEOUT)
        overhead_ms = (time.perf_counter() - began) * 1000
        self._write_report(invocation, replace(record, duration_ms=record.duration_ms + overhead_ms),
                           overhead_ms)
        self.process.settling = None

    def _write_report(self, invocation: Invocation, record: InvocationRecord,
                      extension_overhead_ms: Optional[float] = None) -> None:
        outcome, init_ms = record.outcome, record.init_duration_ms
        write_report(self._emit, invocation, outcome, version=self.config.version,
                     memory_mb=self.config.memory_mb, used_mb=record.max_memory_used_mb,
                     duration_ms=record.duration_ms, init_ms=init_ms,
                     restore_ms=self.lifecycle.restore_duration_ms if init_ms is not None else None,
                     init_failed=not self.lifecycle.init_done or outcome.kind is Kind.INIT_ERROR,
                     started=self._started_line)
        self.process.extensions.report(invocation, record, self.config.memory_mb, extension_overhead_ms)
        self.last_used = time.monotonic()

    def _emit(self, line: str) -> None:
        self._sink.write(self.config.name, line)
        if self._log is not None:
            self._log.append(line)
