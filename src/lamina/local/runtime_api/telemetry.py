"""Telemetry API delivery: each subscriber's batches, sent by HTTP POST to its listener.

Batches are JSON arrays of ``{time, type, record}`` events, formed by the subscriber's buffering
(:class:`~lamina.local.lifecycle.telemetry.TelemetryBuffer`) and sent in order, one request at a time
per subscriber, as Lambda does. ``sandbox.localdomain`` (the listener host AWS documents) is the
environment's own loopback: lamina, on the same machine, sends to ``127.0.0.1``. The HTTP client
(aiohttp's) is imported with the first batch: most environments have no subscriber, and ``lamina
invoke`` must not pay for importing it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import TYPE_CHECKING, Optional
from urllib.parse import urlsplit, urlunsplit

from lamina.local.lifecycle.telemetry import Subscription, TelemetryBuffer
from lamina.local.model.telemetry_events import Event

if TYPE_CHECKING:
    import aiohttp

SANDBOX_HOSTS = ("sandbox.localdomain", "sandbox")
SEND_TIMEOUT = 5.0


def listener_url(uri: str) -> str:
    """Where a subscriber's listener is reached from lamina: its URI, the sandbox name as loopback."""
    parts = urlsplit(uri)
    if parts.hostname not in SANDBOX_HOSTS:
        return uri
    host = "127.0.0.1" if parts.port is None else f"127.0.0.1:{parts.port}"
    return urlunsplit(parts._replace(netloc=host))


class TelemetryDelivery:
    """The subscribers of one environment and their pending batches."""

    def __init__(self) -> None:
        self._buffers: list[TelemetryBuffer] = []
        self._timers: dict[int, asyncio.TimerHandle] = {}
        self._sending: dict[int, asyncio.Task[None]] = {}
        self._session: Optional[aiohttp.ClientSession] = None
        # Whether anyone subscribed (asked thrice per invocation; subscribers are never removed).
        self.subscribed = False

    def subscribe(self, subscription: Subscription, earlier: list[Event]) -> None:
        """Add a subscriber; the events it wants that happened before (the init phase's) come first."""
        buffer = TelemetryBuffer(subscription)
        self._buffers.append(buffer)
        self.subscribed = True
        for event in earlier:
            if subscription.wants(event):
                self._add(len(self._buffers) - 1, event)

    def publish(self, event: Event) -> None:
        for index, buffer in enumerate(self._buffers):
            if buffer.subscription.wants(event):
                self._add(index, event)

    async def flush(self, timeout: float) -> None:
        """Send every pending batch now and wait (up to ``timeout``) for the sends to finish."""
        for index in range(len(self._buffers)):
            self._send(index)
        pending = [task for task in self._sending.values() if not task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def close(self) -> None:
        for timer in self._timers.values():
            timer.cancel()
        self._timers.clear()
        for task in self._sending.values():
            task.cancel()
        for task in list(self._sending.values()):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._sending.clear()
        if self._session is not None:
            await self._session.close()
            self._session = None

    # --- internals -------------------------------------------------------------------------------

    def _add(self, index: int, event: Event) -> None:
        loop = asyncio.get_running_loop()
        buffer = self._buffers[index]
        if buffer.add(event, loop.time()):
            self._send(index)
        elif index not in self._timers:
            due = buffer.due_at()
            if due is not None:
                self._timers[index] = loop.call_at(due, self._send, index)

    def _send(self, index: int) -> None:
        timer = self._timers.pop(index, None)
        if timer is not None:
            timer.cancel()
        batch = self._buffers[index].take()
        if not batch:
            return
        previous = self._sending.get(index)
        uri = listener_url(self._buffers[index].subscription.uri)
        self._sending[index] = asyncio.get_running_loop().create_task(self._post(previous, uri, batch))

    async def _post(self, previous: Optional[asyncio.Task[None]], uri: str, batch: list[Event]) -> None:
        if previous is not None:  # one request at a time per subscriber, in order
            with contextlib.suppress(Exception):
                await previous
        import aiohttp

        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=SEND_TIMEOUT))
        # A listener that is gone or slow loses the batch, as Lambda drops what it cannot deliver.
        with contextlib.suppress(aiohttp.ClientError, asyncio.TimeoutError, OSError):
            async with self._session.post(uri, data=json.dumps(batch).encode(),
                                          headers={"Content-Type": "application/json"}) as response:
                await response.read()
