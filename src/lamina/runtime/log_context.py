"""What every log record carries (the current request id, tenant and trace id) and the constants of
Lambda's log formats, shared by :mod:`lamina.runtime.logs` and :mod:`lamina.runtime.logging_setup`.

A leaf: it imports nothing of lamina's, so both log modules can depend on it without depending on
each other.
"""

from __future__ import annotations

from contextvars import ContextVar

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Optional

    LogSink = Any  # StandardLogSink | FramedTelemetryLogSink (duck-typed, as awslambdaric's sinks are)


# The invocation in progress when there is one at a time in the process: plain module globals, so
# every thread sees them (a ThreadPoolExecutor's workers, s3transfer's), as awslambdaric's
# process-global ``_GLOBAL_AWS_REQUEST_ID`` and ``_GLOBAL_TENANT_ID``.
request_id: Optional[str] = None
tenant_id: Optional[str] = None

# Several invocations at once in one process (async multi-concurrency): each its own, in context
# variables, which take precedence; threads started within an invocation inherit them.
REQUEST_ID: ContextVar[Optional[str]] = ContextVar("aws_request_id", default=None)
TENANT_ID: ContextVar[Optional[str]] = ContextVar("tenant_id", default=None)
TRACE_ID: ContextVar[Optional[str]] = ContextVar("trace_id", default=None)


def current_request_id() -> Optional[str]:
    return REQUEST_ID.get() or request_id


def current_tenant_id() -> Optional[str]:
    tenant = TENANT_ID.get()
    return tenant if tenant is not None else tenant_id

DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Telemetry frame types by level (NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL).
_LEVELS = (0, 10, 20, 30, 40, 50)
JSON_FRAME_TYPES = {lvl: t.to_bytes(4, "big") for lvl, t in zip(_LEVELS, (
    0xA55A0002, 0xA55A000A, 0xA55A000E, 0xA55A0012, 0xA55A0016, 0xA55A001A))}
TEXT_FRAME_TYPES = {lvl: t.to_bytes(4, "big") for lvl, t in zip(_LEVELS, (
    0xA55A0003, 0xA55A000B, 0xA55A000F, 0xA55A0013, 0xA55A0017, 0xA55A001B))}
DEFAULT_FRAME_TYPE = TEXT_FRAME_TYPES[0]
