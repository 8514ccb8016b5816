"""Asynchronous (``Event``) invocations that are never lost: accept into the queue, run, retry, report.

:meth:`AsyncInvoker.enqueue` commits the event and returns its request id (the caller answers 202);
workers claim due events, call the injected :data:`EventInvoker`, then complete, retry (Lambda's policy,
:mod:`async_policy`) or fail the event, writing a destination record (:mod:`destinations`) for
functions that configured one. A lease, renewed while the function runs, keeps two workers from
running one event; after a crash the event runs again once its lease is released or expired.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import json
import logging
import os
import time
import uuid
from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Callable, Optional, Union

from lamina.local.invoke.destinations import SUCCESS, destination_record, write_record
from lamina.local.invoke.event_policy import (
    AWS_RETRY_DELAYS,
    EVENT_AGE_EXCEEDED,
    EventInvokeConfig,
    Retry,
    after_failure,
    is_expired,
)
from lamina.local.invoke.event_queue import EventQueue, QueuedEvent
from lamina.local.invoke.invoker import EventInvoker, InvokeResult
from lamina.local.model import service_errors
from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION
from lamina.local.model.service_errors import ServiceError
from lamina.runtime import protocol

__all__ = ["AsyncInvoker"]

log = logging.getLogger("lamina.async")
DEFAULT_LEASE_SECONDS = 30.0
KEEP_FINISHED_SECONDS = 86400.0  # finished events stay a day for inspection, then go
ConfigSource = Union[Mapping[str, EventInvokeConfig], Callable[[str], EventInvokeConfig]]


class AsyncInvoker:
    """The local Lambda's internal event queue and its pollers, for one data directory."""

    def __init__(self, queue: Union[EventQueue, Path], invoke: EventInvoker, *,
                 configs: Optional[ConfigSource] = None, concurrency: int = 2,
                 retry_delays: Sequence[float] = AWS_RETRY_DELAYS,
                 lease_seconds: float = DEFAULT_LEASE_SECONDS,
                 region: str = DEFAULT_REGION, account: str = DEFAULT_ACCOUNT,
                 clock: Callable[[], float] = time.time,
                 functions: Optional[Callable[[], Collection[str]]] = None,
                 capacity: Optional[Callable[[str], int]] = None) -> None:
        self.queue = queue if isinstance(queue, EventQueue) else EventQueue(queue)
        self._invoke = invoke
        self._configs = configs or {}
        self._concurrency = concurrency
        self._delays = tuple(retry_delays)
        self._lease = lease_seconds
        self._arn_prefix = f"arn:aws:lambda:{region}:{account}:function:"
        self._clock = clock
        self._functions = functions  # None: every function's events
        # Events of one function run at most capacity(name) at a time, so a slow function's backlog
        # holds its own pollers only, as Lambda's per-function queues do.
        self._capacity = capacity
        self._in_flight: collections.Counter[str] = collections.Counter()
        self.owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._wakeup = asyncio.Event()
        self._workers: list[asyncio.Task[None]] = []
        self._stopping = False

    # --- accepting -------------------------------------------------------------------------------

    def enqueue(self, function_name: str, payload: bytes, qualifier: Optional[str] = None,
                request_id: Optional[str] = None) -> str:
        """Durably accept an Event invocation; returns its request id once it is on disk."""
        if len(payload) > protocol.MAX_ASYNC_REQUEST:
            raise service_errors.request_too_large(protocol.MAX_ASYNC_REQUEST, "InvokeFunction")
        request_id = request_id or str(uuid.uuid4())
        self.queue.enqueue(request_id, function_name, payload, self._clock(), qualifier)
        self._wakeup.set()
        return request_id

    # --- running ---------------------------------------------------------------------------------

    async def start(self) -> None:
        """Release leases a crashed predecessor left, then start the pollers."""
        if not self.queue.recover():
            log.warning("another process owns %s; its leases will expire first", self.queue.path)
        self.queue.prune(self._clock() - KEEP_FINISHED_SECONDS)
        self._stopping = False
        loop = asyncio.get_running_loop()
        self._workers = [loop.create_task(self._poll()) for _ in range(self._concurrency)]

    async def close(self, grace: float = 5.0) -> None:
        """Stop claiming; let running attempts finish for ``grace`` seconds, give the rest back."""
        self._stopping = True
        self._wakeup.set()
        if self._workers:
            _, pending = await asyncio.wait(self._workers, timeout=grace)
            for task in pending:
                task.cancel()
            for task in pending:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        self._workers = []
        self.queue.close()

    def config_for(self, function_name: str) -> EventInvokeConfig:
        if callable(self._configs):
            return self._configs(function_name)
        return self._configs.get(function_name) or EventInvokeConfig()

    def _claimable(self) -> Optional[Collection[str]]:
        if self._functions is None:  # capacity needs the names to choose among
            return None
        names = self._functions()
        if self._capacity is None:
            return names
        capacity = self._capacity
        return [name for name in names if self._in_flight[name] < capacity(name)]

    async def _poll(self) -> None:
        while not self._stopping:
            self._wakeup.clear()
            event = self.queue.claim(self.owner, self._clock(), self._lease, self._claimable())
            if event is None:
                await self._sleep_until_due()
                continue
            self._in_flight[event.function_name] += 1
            try:
                await self._run(event)
            except asyncio.CancelledError:
                self.queue.release(event, self.owner)
                raise
            except Exception:  # keep polling; the lease brings the event back
                log.exception("async invocation %s failed inside lamina", event.request_id)
            finally:
                self._in_flight[event.function_name] -= 1
                self._wakeup.set()  # a function below its capacity again: pollers may claim for it

    async def _sleep_until_due(self) -> None:
        due = self.queue.next_due()
        timeout = 1.0 if due is None else min(1.0, max(0.005, due - self._clock()))
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self._wakeup.wait(), timeout)

    async def _renew_lease(self, event: QueuedEvent) -> None:
        while True:
            await asyncio.sleep(self._lease / 3)
            self.queue.renew(event, self.owner, self._clock() + self._lease)

    async def _run(self, event: QueuedEvent) -> None:
        config = self.config_for(event.function_name)
        if is_expired(config, event.enqueued_at, self._clock()):
            self._give_up(event, config, EVENT_AGE_EXCEEDED, event.attempts - 1, None, None)
            return
        renewer = asyncio.get_running_loop().create_task(self._renew_lease(event))
        try:
            function_error, body = await self._attempt(event)
        except ServiceError as exc:
            if exc.status == 429:  # throttled: Lambda retries without counting an attempt
                self.queue.retry(event, self.owner, self._clock() + (self._delays or (0.0,))[0],
                                 count_attempt=False)
                return
            function_error, body = exc.error_type, _error_document(exc.error_type, exc.message)
        finally:
            renewer.cancel()
        now = self._clock()
        if function_error is None:
            self.queue.complete(event, self.owner, now)
            if config.on_success:
                self._write(config.on_success, event, SUCCESS, event.attempts, body, None)
            return
        step = after_failure(config, event.attempts, event.enqueued_at, now, self._delays)
        if isinstance(step, Retry):
            self.queue.retry(event, self.owner, step.not_before)
        else:
            self._give_up(event, config, step, event.attempts, body, function_error)

    async def _attempt(self, event: QueuedEvent) -> InvokeResult:
        name = f"{event.function_name}:{event.qualifier}" if event.qualifier else event.function_name
        return await self._invoke(name, event.payload, event.request_id)

    def _give_up(self, event: QueuedEvent, config: EventInvokeConfig, condition: str, count: int,
                 body: Optional[bytes], function_error: Optional[str]) -> None:
        self.queue.fail(event, self.owner, self._clock())
        log.warning("async invocation %s of %s dropped: %s after %d attempt(s)", event.request_id,
                    event.function_name, condition, count)
        if config.on_failure:
            self._write(config.on_failure, event, condition, count, body, function_error)

    def _write(self, destination: str, event: QueuedEvent, condition: str, count: int,
               body: Optional[bytes], function_error: Optional[str]) -> None:
        arn = f"{self._arn_prefix}{event.function_name}:{event.qualifier or '$LATEST'}"
        record = destination_record(
            request_id=event.request_id, function_arn=arn, condition=condition, invoke_count=count,
            request_payload=event.payload, response_payload=body, function_error=function_error,
            now=self._clock())
        try:
            write_record(destination, record)
        except OSError:
            log.exception("cannot write the destination record of %s to %s", event.request_id, destination)


def _error_document(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()
