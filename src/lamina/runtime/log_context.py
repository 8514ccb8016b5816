"""What every log record carries (the current request id, tenant and trace id) and the constants of
Lambda's log formats, shared by :mod:`lamina.runtime.logs` and :mod:`lamina.runtime.logging_setup`.

A leaf: it imports nothing of lamina's, so both log modules can depend on it without depending on
each other.
"""

from __future__ import annotations

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from contextvars import ContextVar
    from typing import Any, Optional

    LogSink = Any  # StandardLogSink | FramedTelemetryLogSink (duck-typed, as awslambdaric's sinks are)


# The invocation in progress when there is one at a time in the process: plain module globals, so
# every thread sees them (a ThreadPoolExecutor's workers, s3transfer's), as awslambdaric's
# process-global ``_GLOBAL_AWS_REQUEST_ID`` and ``_GLOBAL_TENANT_ID``.
request_id: Optional[str] = None
tenant_id: Optional[str] = None

# Several invocations at once in one process (async multi-concurrency): each its own, in context
# variables, which take precedence; threads started within an invocation inherit them. They are made
# when that mode starts (:func:`use_task_context`): importing contextvars, a shared library, would
# cost every other cold start.
REQUEST_ID: Optional[ContextVar[Optional[str]]] = None
TENANT_ID: Optional[ContextVar[Optional[str]]] = None
TRACE_ID: Optional[ContextVar[Optional[str]]] = None


def use_task_context() -> None:
    """Give each task its own request id, tenant and trace id (:func:`enter_task`), before the
    threads that run concurrent invocations start."""
    global REQUEST_ID, TENANT_ID, TRACE_ID
    if REQUEST_ID is None:
        from contextvars import ContextVar

        TENANT_ID = ContextVar("tenant_id", default=None)
        TRACE_ID = ContextVar("trace_id", default=None)
        REQUEST_ID = ContextVar("aws_request_id", default=None)


def enter_task(request_id: str, tenant_id: Optional[str], trace_id: Optional[str]) -> None:
    """The current task's invocation, for its log records and ``_X_AMZN_TRACE_ID``."""
    if REQUEST_ID is None or TENANT_ID is None or TRACE_ID is None:
        raise RuntimeError("use_task_context() was not called")
    REQUEST_ID.set(request_id)
    TENANT_ID.set(tenant_id)
    TRACE_ID.set(trace_id)


def current_request_id() -> Optional[str]:
    task_request_id = REQUEST_ID.get() if REQUEST_ID is not None else None
    return task_request_id or request_id


def current_tenant_id() -> Optional[str]:
    tenant = TENANT_ID.get() if TENANT_ID is not None else None
    return tenant if tenant is not None else tenant_id


def current_task_trace_id() -> Optional[str]:
    return TRACE_ID.get() if TRACE_ID is not None else None


DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Telemetry frame types by level (NOTSET, DEBUG, INFO, WARNING, ERROR, CRITICAL).
_LEVELS = (0, 10, 20, 30, 40, 50)
JSON_FRAME_TYPES = {lvl: t.to_bytes(4, "big") for lvl, t in zip(_LEVELS, (
    0xA55A0002, 0xA55A000A, 0xA55A000E, 0xA55A0012, 0xA55A0016, 0xA55A001A))}
TEXT_FRAME_TYPES = {lvl: t.to_bytes(4, "big") for lvl, t in zip(_LEVELS, (
    0xA55A0003, 0xA55A000B, 0xA55A000F, 0xA55A0013, 0xA55A0017, 0xA55A001B))}
DEFAULT_FRAME_TYPE = TEXT_FRAME_TYPES[0]
