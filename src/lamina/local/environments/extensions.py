"""The extensions of one execution environment: their processes, their API, their telemetry.

At the start of the init phase every executable of the function's merged ``/opt/extensions`` starts
as a process of the environment (in its process scope, so it ends with it; under bubblewrap in the same
sandbox view as the runtime), with the function's variables less the runtime's own; the runtime starts
once each has registered. :class:`ExtensionHost` answers their Extensions API and Telemetry API calls
through the pure :class:`~lamina.local.lifecycle.extensions.Extensions`, hands them ``INVOKE`` and
``SHUTDOWN`` events, waits on the init and invoke barriers, and feeds the Telemetry API's subscribers
(:class:`~lamina.local.runtime_api.telemetry.TelemetryDelivery`) with platform events, the function's
lines and the extensions' own.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import time
from pathlib import Path
from typing import Callable, Mapping, Optional, Protocol, Sequence, Union

from lamina.local.lifecycle.extensions import SHUTDOWN, EventReady, Extensions, Registered
from lamina.local.lifecycle.states import Invocation, Kind, Outcome, Reply, Wait
from lamina.local.lifecycle.telemetry import Backlog, Subscription, parse_subscription
from lamina.local.model import function_errors, log_lines, telemetry_events
from lamina.local.model.function_config import FunctionConfig
from lamina.local.runtime_api.telemetry import TelemetryDelivery
from lamina.local.sandbox.process import RuntimeProcess

# How long extensions get after SHUTDOWN before they are killed, as Lambda documents it: 2,000 ms with
# an external extension, 500 ms with internal extensions only.
SHUTDOWN_EXTERNAL_MS = 2000
SHUTDOWN_INTERNAL_MS = 500
TELEMETRY_FLUSH = 1.0  # the last batches' time to reach their listeners at shutdown

# Outcomes after which the environment is reset: its extensions go with it.
_RESETTING = (Kind.TIMEOUT, Kind.EXIT, Kind.OUT_OF_MEMORY, Kind.INIT_ERROR)


def _status(outcome: Outcome) -> str:
    """``platform.runtimeDone`` and ``platform.report``'s status."""
    if outcome.kind is Kind.RESPONSE:
        return "success"
    if outcome.kind is Kind.TIMEOUT:
        return "timeout"
    return "error" if outcome.kind is Kind.ERROR else "failure"


class InvocationRecordLike(Protocol):
    """The figures of an invocation's report (an InvocationRecord)."""

    @property
    def outcome(self) -> Outcome: ...

    @property
    def duration_ms(self) -> float: ...

    @property
    def init_duration_ms(self) -> Optional[float]: ...

    @property
    def max_memory_used_mb(self) -> int: ...


Launcher = Callable[[Sequence[str]], tuple[list[str], dict[str, str]]]


def extension_paths(config: FunctionConfig) -> dict[str, Path]:
    """The function's ``/opt/extensions`` executables by name, merged over its layers in order."""
    roots = [config.opt_dir] if config.opt_dir is not None else list(config.layers)
    found: dict[str, Path] = {}
    for root in roots:
        directory = root / "extensions"
        if directory.is_dir():
            for entry in sorted(directory.iterdir()):
                if not entry.is_dir():
                    found[entry.name] = entry
    return found


class ExtensionHost:
    """The extensions of one environment (implements the Runtime API's ExtensionsApiHandler)."""

    def __init__(self, config: FunctionConfig, emit: Callable[[str], None]) -> None:
        self.config = config
        self.paths = extension_paths(config)
        self.state = Extensions(list(self.paths), function_name=config.name, function_version=config.version,
                                handler=config.handler, account_id=config.account)
        self.telemetry = TelemetryDelivery()
        self.backlog = Backlog()
        self.on_failure: Callable[[str, str], None] = lambda error_type, message: None
        self.on_change: Callable[[], None] = lambda: None
        self._emit = emit
        self._processes: dict[str, RuntimeProcess] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self._polls: dict[str, asyncio.Future[bytes]] = {}
        self._waiters: list[asyncio.Future[None]] = []
        self._failed_reported = False

    @property
    def active(self) -> bool:
        """Whether the environment has extensions (the runtime's own included)."""
        return bool(self.paths) or self.state.any_registered

    def pids(self) -> list[int]:
        return [pid for process in self._processes.values() if (pid := process.pid) is not None]

    # --- the environment's side ------------------------------------------------------------------

    async def launch(self, env: Mapping[str, str], cwd: Path, preexec: Optional[Callable[[], None]],
                     sandboxed: Launcher) -> None:
        """Start every extension; returns once each registered (or one failed)."""
        for name, path in self.paths.items():
            process = RuntimeProcess(functools.partial(self._extension_line, name))
            self._processes[name] = process
            argv, extra = sandboxed([self._path_inside(path)])
            try:
                await process.spawn(argv, cwd, {**env, **extra}, preexec=preexec)
            except OSError as exc:
                self.state.launch_failed(name, f"fork/exec {path}: {exc.strerror}")
                self._changed()
                return
            self._watchers.append(asyncio.get_running_loop().create_task(self._watch(name, process)))

    async def wait(self, condition: Callable[[], bool], timeout: float) -> bool:
        """Wait until ``condition`` holds (True) or ``timeout`` seconds pass (False)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while not condition():
            remaining = deadline - loop.time()
            if remaining <= 0:
                return False
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(waiter, remaining)
        return True

    def init_complete(self, duration_ms: float) -> None:
        """The init phase is over: EXTENSION lines, its telemetry; its events are no longer kept."""
        for extension in self.state.all:
            error, events = extension.error_type, list(extension.events)
            state = extension.state.value if error else "Ready"
            self._emit(log_lines.extension(extension.name, state, events, error))
            self.publish(telemetry_events.extension_state(extension.name, state, events, error))
        kind = self.config.initialization_type
        self.publish(telemetry_events.init_runtime_done(kind, "success"))
        self.publish(telemetry_events.init_report(kind, "success", duration_ms))
        self.backlog.close()

    def failure_outcome(self, request_id: str) -> Optional[Outcome]:
        """How an invocation ends when the environment's extensions failed (before its handler ran)."""
        failure = self.state.failure
        if failure is None:
            return None
        error_type, message = failure
        document = function_errors.document(error_type, f"RequestId: {request_id} Error: {message}")
        return Outcome(request_id, Kind.INIT_ERROR, document, error_type=error_type)

    def publish(self, event: telemetry_events.Event) -> None:
        """A Telemetry API event: to subscribers, and kept for later ones during the init phase."""
        self.backlog.keep(event)
        self.telemetry.publish(event)

    def function_line(self, line: str) -> None:
        if self.telemetry.subscribed or self.backlog.open:
            self.publish(telemetry_events.log_line(telemetry_events.FUNCTION, line))

    def invocation_started(self, invocation: Invocation, deadline_ms: int, version: str) -> None:
        """``INVOKE`` to its subscribers, ``platform.start`` to the Telemetry API's (made only when
        someone can receive it: a subscriber now, or one to come during init)."""
        if self.telemetry.subscribed or self.backlog.open:
            self.publish(telemetry_events.start(invocation.request_id, version, invocation.trace_id))
        if self.active:
            self._hand(self.state.invoke(invocation.request_id, deadline_ms, invocation.function_arn,
                                         invocation.trace_id))

    def working_on(self, outcome: Outcome) -> bool:
        """Whether extensions still have work on the invocation that just ended in ``outcome``."""
        return (self.state.failure is None and outcome.kind not in _RESETTING
                and not self.state.invoke_done)

    def runtime_done(self, invocation: Invocation, outcome: Outcome, duration_ms: float) -> None:
        if self.telemetry.subscribed:
            produced = len(outcome.body) if outcome.kind is Kind.RESPONSE else 0
            self.publish(telemetry_events.runtime_done(
                invocation.request_id, _status(outcome), duration_ms, produced,
                None if outcome.kind is Kind.RESPONSE else outcome.error_type, invocation.trace_id))

    def report(self, invocation: Invocation, record: InvocationRecordLike, memory_mb: int,
               extension_overhead_ms: Optional[float]) -> None:
        outcome = record.outcome
        if self.telemetry.subscribed:
            self.publish(telemetry_events.report(
                invocation.request_id, _status(outcome), record.duration_ms, memory_mb,
                record.max_memory_used_mb, record.init_duration_ms,
                None if outcome.kind is Kind.RESPONSE else outcome.error_type,
                extension_overhead_ms, invocation.trace_id))

    async def shutdown(self, reason: str, kill: Callable[[], None]) -> None:
        """SHUTDOWN to every subscriber, then up to Lambda's limit for the extensions to exit."""
        if not self.active or self.state.shutting_down:
            return
        limit_ms = SHUTDOWN_INTERNAL_MS if self.state.only_internal else SHUTDOWN_EXTERNAL_MS
        deadline_ms = int(time.time() * 1000) + limit_ms
        self._hand(self.state.shutdown(reason, deadline_ms))
        await self.telemetry.flush(TELEMETRY_FLUSH)
        running = [watcher for watcher in self._watchers if not watcher.done()]
        if self.state.subscribed(SHUTDOWN) and running:
            await asyncio.wait(running, timeout=limit_ms / 1000)
        kill()

    async def close(self) -> None:
        for process in self._processes.values():
            process.kill()
        for poll in self._polls.values():
            if not poll.done():
                poll.cancel()
        if self._watchers:
            await asyncio.gather(*self._watchers, return_exceptions=True)
        await self.telemetry.close()

    # --- the Extensions API (ExtensionsApiHandler) ----------------------------------------------------

    def on_register(self, name: Optional[str], body: bytes, features: Optional[str]) -> Registered:
        registered = self.state.register(name, body, features)
        self._changed()
        return registered

    async def on_event_next(self, identifier: Optional[str]) -> Union[EventReady, Reply]:
        action = self.state.next_requested(identifier)
        self._changed()
        if not isinstance(action, Wait):
            return action
        assert identifier is not None
        poll: asyncio.Future[bytes] = asyncio.get_running_loop().create_future()
        self._polls[identifier] = poll
        try:
            return EventReady(await poll)
        except asyncio.CancelledError:
            self.state.poll_abandoned(identifier)
            raise
        finally:
            if self._polls.get(identifier) is poll:
                del self._polls[identifier]

    def on_extension_error(self, identifier: Optional[str], error_type: Optional[str], *,
                           exiting: bool) -> Reply:
        reply = self.state.error_posted(identifier, error_type, exiting=exiting)
        self._changed()
        return reply

    def on_subscribe(self, identifier: Optional[str], api: str, body: bytes) -> Reply:
        extension = next((ext for ext in self.state.registered if ext.identifier == identifier), None)
        if extension is None:
            return Reply.error(403, "Extension.UnknownExtensionIdentifier", f"Unknown extension {identifier}")
        if not self.backlog.open:  # subscriptions are taken during the init phase only
            service = "Telemetry" if api == "telemetry" else "Logs"
            return Reply.error(403, f"{service}.SubscriptionClosed", f"{service} API subscription is closed")
        subscription = parse_subscription(extension.name, api, body)
        if isinstance(subscription, Reply):
            return subscription
        self._subscribed(subscription)
        return Reply(200, b'"OK"')

    # --- internals -------------------------------------------------------------------------------

    def _path_inside(self, path: Path) -> str:
        """The executable as the sandbox shows it: under /opt with bubblewrap, where it is otherwise."""
        if self.config.sandbox == "bwrap" and self.config.opt_dir is not None:
            return f"/opt/extensions/{path.name}"
        return str(path)

    def _subscribed(self, subscription: Subscription) -> None:
        types = list(subscription.types)
        self._emit(log_lines.subscription(subscription.api, subscription.extension, types))
        self.telemetry.subscribe(subscription, list(self.backlog.events))
        self.publish(telemetry_events.telemetry_subscription(subscription.extension, types))

    def _extension_line(self, name: str, line: str) -> None:
        self._emit(line)
        if self.telemetry.subscribed or self.backlog.open:
            self.publish(telemetry_events.log_line(telemetry_events.EXTENSION, line))

    def _hand(self, deliveries: list[tuple[str, bytes]]) -> None:
        for identifier, body in deliveries:
            poll = self._polls.pop(identifier, None)
            if poll is not None and not poll.done():
                poll.set_result(body)
        self._changed()

    async def _watch(self, name: str, process: RuntimeProcess) -> None:
        returncode = await process.wait()
        self.state.exited(name, function_errors.exit_description(returncode)
                          if returncode else "exit code 0")
        self._changed()

    def _changed(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)
        failure = self.state.failure
        if failure is not None and not self._failed_reported and not self.state.shutting_down:
            self._failed_reported = True
            self.on_failure(*failure)
        self.on_change()

