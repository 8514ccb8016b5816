"""The platform lines that close an invocation, the same for every kind of environment.

Lambda ends each invocation's log with, in order: an ``INIT_REPORT`` when the init phase itself failed
or timed out, the ``START`` line if the invocation never reached the runtime, the "Task timed out"
line, ``END`` and ``REPORT`` (with ``Init Duration`` on a cold start, or ``Restore Duration`` on a
restored SnapStart environment, and the status and error type of a failure).
"""

from __future__ import annotations

from typing import Callable, Optional

from lamina.local.lifecycle.states import Invocation, Kind, Outcome
from lamina.local.model import function_errors, log_lines

_ERROR_KINDS = (Kind.EXIT, Kind.OUT_OF_MEMORY, Kind.INIT_ERROR, Kind.RESPONSE_TOO_LARGE)


def write_report(emit: Callable[[str], None], invocation: Invocation, outcome: Outcome, *, version: str,
                 memory_mb: int, used_mb: int, duration_ms: float, init_ms: Optional[float],
                 restore_ms: Optional[float] = None, init_failed: bool = False, started: bool = True) -> None:
    request_id = invocation.request_id
    if init_failed and init_ms is not None:
        timed_out = outcome.kind is Kind.TIMEOUT
        emit(log_lines.init_report(init_ms, "timeout" if timed_out else "error",
                                   None if timed_out else outcome.error_type))
    if not started:
        emit(log_lines.start(request_id, version))
    status: Optional[str] = None
    if outcome.kind is Kind.TIMEOUT:
        emit(log_lines.timed_out(request_id, function_errors.timeout_message(invocation.timeout)))
        status = "timeout"
    elif outcome.kind in _ERROR_KINDS:
        status = "error"
    emit(log_lines.end(request_id))
    emit(log_lines.report(log_lines.Report(
        request_id, duration_ms, memory_mb, used_mb, init_ms if restore_ms is None else None, status,
        outcome.error_type if status == "error" else None, restore_ms)))
