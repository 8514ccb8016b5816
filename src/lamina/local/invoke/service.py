"""The local Lambda service: functions, their pools, and the invoke core every front end calls.

:meth:`LocalLambda.invoke` is the one way to run a function. The Invoke API, AWS's emulator path,
``lamina invoke``, the streaming relay and the HTTP front all call it and only differ in how they
render its :class:`InvocationResult`. ``Event`` invocations take the Event path owned here: with a
durable queue (:meth:`LocalLambda.open_event_queue`, as ``lamina serve`` opens one in its data
directory) they are on disk before the 202 and run by the queue's pollers with Lambda's retries,
event age and destinations (:mod:`~lamina.local.invoke.event_worker`); without one, in a background
task.
"""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Optional, Sequence

from lamina.local.environments.account import AccountConcurrency, check_reservations
from lamina.local.environments.logsink import LogSink, NullSink
from lamina.local.environments.pool import FunctionPool
from lamina.local.environments.process import InvocationRecord
from lamina.local.invoke.event_policy import AWS_RETRY_DELAYS
from lamina.local.invoke.event_queue import default_queue_path
from lamina.local.invoke.event_worker import AsyncInvoker, ConfigSource
from lamina.local.invoke.invoker import InvokeResult
from lamina.local.invoke.registry import FunctionRegistry, pool_key
from lamina.local.lifecycle.states import Invocation, Kind
from lamina.local.model import function_errors, service_errors
from lamina.local.model.function_config import DEFAULT_ACCOUNT_CONCURRENCY, FunctionConfig
from lamina.local.model.request_ids import new_request_id
from lamina.local.runtime_api.server import RuntimeApiServer
from lamina.local.sandbox.containment import Containment
from lamina.local.sandbox.python_runtime import PythonRuntimes
from lamina.runtime import error_types, protocol

# How often environments' memory is sampled, and idle ones are looked for.
MEMORY_POLL_INTERVAL = 0.1
IDLE_POLL_INTERVAL = 1.0
_TENANT = "#tenant="  # in a pool's key: the tenant whose environments it holds (tenant isolation mode)
EVENT_POLLERS = 16  # cheap tasks; each function's own concurrency bounds its share

REQUEST_RESPONSE = "RequestResponse"
EVENT = "Event"
DRY_RUN = "DryRun"


# Not frozen: one is made per invocation, and a frozen dataclass's __init__ sets each field through
# object.__setattr__ (several times the cost); nothing changes it after it is made.
@dataclass
class InvocationResult:
    """What an invocation produced, for any front end to render."""

    request_id: str
    function: FunctionConfig
    payload: bytes
    content_type: str
    kind: Kind
    error_type: Optional[str]
    log: bytes
    record: Optional[InvocationRecord] = None

    @property
    def function_error(self) -> Optional[str]:
        """``X-Amz-Function-Error``: ``Unhandled`` for every failure, as Lambda reports it now."""
        return None if self.kind is Kind.RESPONSE else "Unhandled"

    @property
    def executed_version(self) -> str:
        return self.function.version

    def log_tail(self) -> bytes:
        return self.log[-protocol.MAX_LOG_TAIL:]


class LocalLambda:
    """Functions (a :class:`FunctionRegistry`) and the environments that run them."""

    def __init__(self, registry: Optional[FunctionRegistry] = None, sink: Optional[LogSink] = None,
                 runtime_api_host: str = "127.0.0.1", python: Optional[PythonRuntimes] = None,
                 account_concurrency: int = DEFAULT_ACCOUNT_CONCURRENCY) -> None:
        self.registry = registry if registry is not None else FunctionRegistry()  # an empty one is falsy
        # Environments on demand up to the account's concurrency, less the functions' reservations.
        self.account = AccountConcurrency(account_concurrency, reserved_total=self._reserved_total)
        # The function's python3.X and only its packages (--python, --no-boto3); its directories go
        # with this service.
        self.python = python or PythonRuntimes()
        self.sink: LogSink = sink or NullSink()
        self.runtime_api = RuntimeApiServer(runtime_api_host)
        self._pools: dict[str, FunctionPool] = {}
        self._background: set[asyncio.Task[object]] = set()
        self._monitor: Optional[asyncio.Task[None]] = None
        self.events: Optional[AsyncInvoker] = None  # the durable Event queue, once opened
        self._containment: Optional[Containment] = None
        self._started = False
        self._reserved: Optional[int] = None  # the reserved total, until the registry changes
        self.registry.subscribe(self._function_changed)

    async def open_event_queue(self, data_dir: Path, configs: ConfigSource, *,
                               retry_delays: Sequence[float] = AWS_RETRY_DELAYS,
                               pollers: int = EVENT_POLLERS) -> AsyncInvoker:
        """Run ``Event`` invocations through a durable queue in ``data_dir`` from now on.

        ``configs`` gives each function's retry, event-age and destination settings; it may change
        while serving (a template reload updates it in place).
        """
        self.events = AsyncInvoker(
            default_queue_path(data_dir), self._invoke_event, configs=configs, retry_delays=retry_delays,
            region=self.registry.region, account=self.registry.account,
            functions=lambda: [config.name for config in self.registry],
            capacity=self._capacity, concurrency=pollers)
        if self._started:
            await self.events.start()
        return self.events

    async def start(self) -> None:
        if self._monitor is None:
            self._monitor = asyncio.get_running_loop().create_task(self._watch())
        if self.events is not None and not self._started:
            await self.events.start()
        self._started = True

    async def close(self, grace: float = 10.0) -> None:
        """Finish accepted Event invocations (up to ``grace`` seconds), then stop every environment."""
        if self.events is not None and self._started:
            await self.events.close()
        self._started = False
        if self._background:
            await asyncio.wait(list(self._background), timeout=grace)
        if self._monitor is not None:
            self._monitor.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._monitor
            self._monitor = None
        await asyncio.gather(*(pool.close() for pool in self._pools.values()))
        self._pools.clear()
        await self.runtime_api.close()
        self.python.close()
        if self._containment is not None:
            self._containment.close()
            self._containment = None

    async def __aenter__(self) -> LocalLambda:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def containment(self) -> Containment:
        """How this service keeps hold of its environments' processes (chosen on first use)."""
        if self._containment is None:
            self._containment = Containment.detect()
        return self._containment

    def pool(self, name: str) -> Optional[FunctionPool]:
        return self._pools.get(name)

    async def invoke(self, function_name: str, payload: bytes, *, qualifier: Optional[str] = None,
                     request_id: Optional[str] = None, content_type: str = protocol.CONTENT_TYPE_JSON,
                     client_context: Optional[str] = None, cognito_identity: Optional[str] = None,
                     tenant_id: Optional[str] = None, trace_id: Optional[str] = None,
                     function_arn: Optional[str] = None, asynchronous: bool = False,
                     relay: Optional[object] = None, log: bool = True) -> InvocationResult:
        """Run one invocation to its end. Raises :class:`ServiceError` (not found, throttled).

        ``log``: whether the caller reads the invocation's log (``result.log``, LogType Tail); without
        it the result carries none, and END/REPORT are written after the caller has its answer.

        ``relay`` (a :class:`~lamina.local.runtime_api.relay.StreamRelay`) receives a streamed response
        while it is produced; the result then carries no payload.
        """
        config = self.registry.resolve(function_name, qualifier)
        if config.tenant_isolation and not tenant_id:
            raise service_errors.ServiceError(
                error_types.INVALID_PARAMETER_VALUE,
                "Tenant ID configuration not specified: the function uses tenant isolation mode PER_TENANT")
        if config.reserved_concurrency == 0:  # PutFunctionConcurrency 0: the function is switched off
            raise service_errors.too_many_requests(reserved=True)
        invocation = Invocation(
            request_id=request_id or new_request_id(), payload=payload,
            function_arn=function_arn or (config.arn + (f":{qualifier}" if qualifier else "")),
            timeout=config.timeout, content_type=content_type, client_context=client_context,
            cognito_identity=cognito_identity, tenant_id=tenant_id, trace_id=trace_id, relay=relay,
            log_wanted=log and not asynchronous)
        record = await self._pool_for(config, tenant_id).invoke(invocation, wait_unbounded=asynchronous)
        outcome = record.outcome
        if outcome.kind is Kind.INIT_ERROR and outcome.error_type == error_types.AFTER_RESTORE_ERROR:
            raise service_errors.snapstart_restore_failed(function_errors.error_details(outcome.body))
        return InvocationResult(invocation.request_id, config, outcome.body, outcome.content_type,
                                outcome.kind, outcome.error_type, record.log, record)

    async def prewarm(self, function_name: str) -> None:
        """Start an execution environment of the function before any invocation (``--eager``)."""
        await self._pool_for(self.registry.resolve(function_name)).prewarm()

    def invoke_in_background(self, function_name: str, payload: bytes, **kwargs: object) -> str:
        """Accept an ``Event`` invocation: it runs after this returns; returns its request id."""
        config = self.registry.resolve(function_name, kwargs.get("qualifier"))  # type: ignore[arg-type]
        request_id = str(kwargs.pop("request_id", None) or new_request_id())
        if self.events is not None:
            return self.events.enqueue(config.name, payload, kwargs.get("qualifier"), request_id)  # type: ignore[arg-type]
        coro = self.invoke(config.name, payload, request_id=request_id, asynchronous=True,
                           **kwargs)  # type: ignore[arg-type]
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)
        self._background.add(task)
        task.add_done_callback(self._background_done)
        return request_id

    # --- internals -------------------------------------------------------------------------------

    async def _invoke_event(self, function_name: str, payload: bytes, request_id: str) -> InvokeResult:
        """One attempt of a queued Event invocation: waits for an environment instead of a 429."""
        result = await self.invoke(function_name, payload, request_id=request_id, asynchronous=True)
        return result.function_error, result.payload

    def _capacity(self, function_name: str) -> int:
        config = self.registry.get(function_name)
        return config.concurrency if config is not None else 0

    def _reserved_total(self) -> int:
        """What the served functions reserve (asked twice per invocation; made again after a change)."""
        if self._reserved is None:
            self._reserved = sum(config.reserved_concurrency or 0 for config in self.registry)
        return self._reserved

    def check_reservations(self) -> None:
        """Refuse the served functions' reserved concurrency if it leaves the account too little
        (InvalidParameterValueException, AWS's message)."""
        check_reservations({config.name: config.reserved_concurrency for config in self.registry
                            if config.reserved_concurrency is not None}, self.account.limit)

    def _pool_for(self, config: FunctionConfig, tenant_id: Optional[str] = None) -> FunctionPool:
        key = pool_key(config)  # each published version has its own environments
        if config.tenant_isolation and tenant_id:
            key += f"{_TENANT}{tenant_id}"  # and, in tenant isolation mode, each tenant its own
        pool = self._pools.get(key)
        if pool is None or pool.config is not config:
            pool = FunctionPool(config, self.runtime_api, self.sink, self.containment, self.python,
                                self.account)
            self._pools[key] = pool
        return pool

    def _function_changed(self, name: str, config: Optional[FunctionConfig]) -> None:
        self._reserved = None
        for key in [key for key in self._pools if key == name or key.startswith(f"{name}{_TENANT}")]:
            self._spawn(self._pools.pop(key).retire())

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[object] = asyncio.get_running_loop().create_task(coro)  # type: ignore[arg-type]
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    def _background_done(self, task: asyncio.Task[object]) -> None:
        self._background.discard(task)
        if not task.cancelled() and task.exception() is not None:
            self.sink.write("lamina", f"Event invocation failed: {task.exception()!r}")

    async def _watch(self) -> None:
        """Sample memory of live environments and stop idle ones."""
        idle_due = 0.0
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(MEMORY_POLL_INTERVAL)
            for pool in list(self._pools.values()):
                pool.check_memory()
            if loop.time() >= idle_due:
                idle_due = loop.time() + IDLE_POLL_INTERVAL
                for pool in list(self._pools.values()):
                    await pool.reap_idle()
