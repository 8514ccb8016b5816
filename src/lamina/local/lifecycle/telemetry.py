"""Telemetry API subscriptions and their buffers, pure (the clock is passed in).

An extension subscribes with ``PUT /2022-07-01/telemetry`` (or the older Logs API, ``PUT
/2020-08-15/logs``) naming the streams it wants (``platform``, ``function``, ``extension``), an HTTP
listener and how to buffer: Lambda gathers events and sends a batch when it holds ``maxItems`` events
or ``maxBytes`` bytes, or ``timeoutMs`` after the first one came. :func:`parse_subscription` checks a
request as Lambda does (its limits, answered with ``400 ValidationError``); :class:`TelemetryBuffer` is
one subscriber's batch. Events of the init phase that happened before a subscription are kept
(:class:`Backlog`), as Lambda buffers them, so a subscriber sees ``platform.initStart`` too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Optional, Union

from lamina.local.lifecycle.states import Reply
from lamina.local.model.telemetry_events import STREAMS, Event, stream_of

TELEMETRY_API = "telemetry"
LOGS_API = "logs"
SCHEMA_VERSIONS = {TELEMETRY_API: ("2022-07-01", "2022-12-13", "2025-01-29"),
                   LOGS_API: ("2020-08-15", "2021-03-18")}
# buffering: (minimum, maximum, default), as Lambda documents them.
MAX_ITEMS = (1000, 10000, 10000)
MAX_BYTES = (262144, 1048576, 262144)
TIMEOUT_MS = (25, 30000, 1000)
BACKLOG_LIMIT = 1000  # init-phase events kept for subscriptions that come later


@dataclass(frozen=True)
class Subscription:
    extension: str
    api: str
    uri: str
    types: tuple[str, ...]
    schema_version: str
    max_items: int = MAX_ITEMS[2]
    max_bytes: int = MAX_BYTES[2]
    timeout_ms: int = TIMEOUT_MS[2]

    def wants(self, event: Event) -> bool:
        return stream_of(event) in self.types


def _invalid(message: str) -> Reply:
    return Reply.error(400, "ValidationError", message)


def _bounded(buffering: dict[str, object], key: str, limits: tuple[int, int, int]) -> Union[int, Reply]:
    value = buffering.get(key, limits[2])
    if not isinstance(value, int) or isinstance(value, bool) or not limits[0] <= value <= limits[1]:
        return _invalid(f"buffering.{key} must be an integer between {limits[0]} and {limits[1]}")
    return value


def parse_subscription(extension: str, api: str, body: bytes) -> Union[Subscription, Reply]:
    """A subscription request, or the ``400 ValidationError`` Lambda answers it with."""
    try:
        document = json.loads(body or b"null")
    except ValueError as exc:
        return _invalid(f"Invalid JSON: {exc}")
    if not isinstance(document, dict):
        return _invalid("the request body must be a JSON object")
    version = document.get("schemaVersion", SCHEMA_VERSIONS[api][0] if api == LOGS_API else None)
    if version not in SCHEMA_VERSIONS[api]:
        return _invalid(f"schemaVersion must be one of {', '.join(SCHEMA_VERSIONS[api])}")
    types = document.get("types")
    if (not isinstance(types, list) or not types
            or not all(isinstance(kind, str) and kind in STREAMS for kind in types)):
        return _invalid(f"types must be a non-empty list of {', '.join(STREAMS)}")
    destination = document.get("destination")
    if not isinstance(destination, dict) or destination.get("protocol") != "HTTP":
        return _invalid("destination.protocol must be HTTP (TCP destinations are not supported locally)")
    uri = destination.get("URI")
    if not isinstance(uri, str) or not uri.startswith("http://"):
        return _invalid("destination.URI must be an http:// URI of a listener in the execution environment")
    buffering = document.get("buffering", {})
    if not isinstance(buffering, dict):
        return _invalid("buffering must be an object")
    bounds = [_bounded(buffering, key, limits) for key, limits in
              (("maxItems", MAX_ITEMS), ("maxBytes", MAX_BYTES), ("timeoutMs", TIMEOUT_MS))]
    for bound in bounds:
        if isinstance(bound, Reply):
            return bound
    max_items, max_bytes, timeout_ms = (int(bound) for bound in bounds if isinstance(bound, int))
    return Subscription(extension, api, uri, tuple(dict.fromkeys(types)), str(version),
                        max_items, max_bytes, timeout_ms)


@dataclass
class TelemetryBuffer:
    """One subscriber's pending batch."""

    subscription: Subscription
    events: list[Event] = field(default_factory=list)
    size: int = 0
    first_at: Optional[float] = None

    def add(self, event: Event, now: float) -> bool:
        """Keep ``event``; True when the batch is full and should go now."""
        self.events.append(event)
        self.size += len(json.dumps(event))
        if self.first_at is None:
            self.first_at = now
        return len(self.events) >= self.subscription.max_items or self.size >= self.subscription.max_bytes

    def due_at(self) -> Optional[float]:
        """When the batch goes by time (``timeoutMs`` after its first event), if it holds any."""
        return None if self.first_at is None else self.first_at + self.subscription.timeout_ms / 1000

    def take(self) -> list[Event]:
        batch, self.events, self.size, self.first_at = self.events, [], 0, None
        return batch


@dataclass
class Backlog:
    """Events since the environment started, until its init phase ends, for later subscribers."""

    events: list[Event] = field(default_factory=list)
    open: bool = True

    def keep(self, event: Event) -> None:
        if self.open and len(self.events) < BACKLOG_LIMIT:
            self.events.append(event)

    def close(self) -> None:
        self.open = False
        self.events.clear()
