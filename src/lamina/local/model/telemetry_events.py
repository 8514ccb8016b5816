"""The Telemetry API's events as Lambda writes them: ``{time, type, record}`` (no I/O).

Types and record fields follow AWS's Telemetry API schema reference (``platform.initStart``,
``platform.initRuntimeDone``, ``platform.initReport``, ``platform.start``, ``platform.runtimeDone``,
``platform.report``, ``platform.extension``, ``platform.telemetrySubscription``, ``function`` and
``extension``), in the shape of schema version ``2022-12-13`` and later.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from typing import Any, Optional

Event = dict[str, Any]

PLATFORM = "platform"
FUNCTION = "function"
EXTENSION = "extension"
STREAMS = (PLATFORM, FUNCTION, EXTENSION)


def timestamp(now: Optional[datetime] = None) -> str:
    """ISO 8601 with milliseconds and ``Z``, as the Telemetry API writes ``time``."""
    return (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def stream_of(event: Event) -> str:
    """``platform``, ``function`` or ``extension``: which subscription type an event belongs to."""
    kind = str(event["type"])
    return PLATFORM if kind.startswith("platform.") else kind


def event(kind: str, record: object, now: Optional[datetime] = None) -> Event:
    return {"time": timestamp(now), "type": kind, "record": record}


def _ms(value: float) -> float:
    return round(value, 3)


def init_start(initialization_type: str, runtime_version: str, function_name: str, function_version: str,
               memory_mb: int, phase: str = "init") -> Event:
    return event("platform.initStart", {
        "initializationType": initialization_type, "phase": phase, "runtimeVersion": runtime_version,
        "runtimeVersionArn": f"arn:aws:lambda:::runtime:{runtime_version}",
        "functionName": function_name, "functionVersion": function_version,
        "instanceMaxMemory": memory_mb * 1024 * 1024})


def init_runtime_done(initialization_type: str, status: str, error_type: Optional[str] = None,
                      phase: str = "init") -> Event:
    record: dict[str, object] = {"initializationType": initialization_type, "phase": phase, "status": status}
    if error_type:
        record["errorType"] = error_type
    return event("platform.initRuntimeDone", record)


def init_report(initialization_type: str, status: str, duration_ms: float, error_type: Optional[str] = None,
                phase: str = "init") -> Event:
    record: dict[str, object] = {"initializationType": initialization_type, "phase": phase, "status": status}
    if error_type:
        record["errorType"] = error_type
    record["metrics"] = {"durationMs": _ms(duration_ms)}
    return event("platform.initReport", record)


def _tracing(trace_id: Optional[str]) -> dict[str, object]:
    return {"tracing": {"type": "X-Amzn-Trace-Id", "value": trace_id}} if trace_id else {}


def start(request_id: str, version: str, trace_id: Optional[str] = None) -> Event:
    return event("platform.start", {"requestId": request_id, "version": version, **_tracing(trace_id)})


def runtime_done(request_id: str, status: str, duration_ms: float, produced_bytes: int,
                 error_type: Optional[str] = None, trace_id: Optional[str] = None) -> Event:
    record: dict[str, object] = {"requestId": request_id, "status": status}
    if error_type:
        record["errorType"] = error_type
    record["metrics"] = {"durationMs": _ms(duration_ms), "producedBytes": produced_bytes}
    record.update(_tracing(trace_id))
    return event("platform.runtimeDone", record)


def report(request_id: str, status: str, duration_ms: float, memory_mb: int, used_mb: int,
           init_ms: Optional[float] = None, error_type: Optional[str] = None,
           extension_overhead_ms: Optional[float] = None, trace_id: Optional[str] = None) -> Event:
    metrics: dict[str, object] = {"durationMs": _ms(duration_ms),
                                  "billedDurationMs": math.ceil(duration_ms + (init_ms or 0.0)),
                                  "memorySizeMB": memory_mb, "maxMemoryUsedMB": used_mb}
    if init_ms is not None:
        metrics["initDurationMs"] = _ms(init_ms)
    record: dict[str, object] = {"requestId": request_id, "status": status}
    if error_type:
        record["errorType"] = error_type
    record["metrics"] = metrics
    record.update(_tracing(trace_id))
    if extension_overhead_ms is not None:
        record["spans"] = [{"name": "extensionOverhead", "start": timestamp(),
                            "durationMs": _ms(extension_overhead_ms)}]
    return event("platform.report", record)


def extension_state(name: str, state: str, events: list[str], error_type: Optional[str] = None) -> Event:
    record: dict[str, object] = {"name": name, "state": state, "events": events}
    if error_type:
        record["errorType"] = error_type
    return event("platform.extension", record)


def telemetry_subscription(name: str, types: list[str]) -> Event:
    return event("platform.telemetrySubscription", {"name": name, "state": "Subscribed", "types": types})


def log_line(stream: str, line: str) -> Event:
    """A line the function (``function``) or an extension (``extension``) wrote."""
    return event(stream, line)
