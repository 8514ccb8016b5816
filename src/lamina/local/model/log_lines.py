"""Lambda's platform log lines (INIT_START, RESTORE_*, START, END, REPORT, the timeout line, EXTENSION
and TELEMETRY), as Lambda prints them.

Pure formatting so tests can pin the exact text; the environment decides when each line is written.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Optional, Sequence


# Not frozen: one is made per invocation, and a frozen dataclass's __init__ sets each field through
# object.__setattr__ (several times the cost); nothing changes it after it is made.
@dataclass
class Report:
    """The figures of one REPORT line."""

    request_id: str
    duration_ms: float
    memory_size_mb: int
    max_memory_used_mb: int
    init_duration_ms: Optional[float] = None  # only on the invocation that paid for a cold start
    status: Optional[str] = None  # "timeout" or "error" when the invocation failed
    error_type: Optional[str] = None
    # SnapStart: on the first invocation of an environment restored from a snapshot, in place of
    # the init duration (SnapStart functions are initialised before any invocation).
    restore_duration_ms: Optional[float] = None

    @property
    def billed_restore_duration_ms(self) -> Optional[int]:
        # Lambda bills the part of a restore spent in the environment (loading the runtime, the
        # after-restore hooks); locally that is the whole restore.
        return None if self.restore_duration_ms is None else math.ceil(self.restore_duration_ms)

    @property
    def billed_duration_ms(self) -> int:
        # Lambda bills in 1 ms steps and, for on-demand functions, bills the init phase too; for a
        # restored environment, the billed restore (as Lambda's REPORT lines add up).
        return math.ceil(self.duration_ms + (self.init_duration_ms or 0.0)
                         + (self.billed_restore_duration_ms or 0))


def init_start(runtime: str) -> str:
    return f"INIT_START Runtime Version: {runtime}"


def init_report(duration_ms: float, status: str, error_type: Optional[str] = None,
                phase: str = "init") -> str:
    """Lambda's line for an init phase that failed or timed out (a successful one shows in REPORT)."""
    line = f"INIT_REPORT Init Duration: {duration_ms:.2f} ms\tPhase: {phase}\tStatus: {status}"
    return line + (f"\tError Type: {error_type}" if error_type else "")


def restore_start(runtime: str) -> str:
    return f"RESTORE_START Runtime Version: {runtime}"


def restore_report(duration_ms: float, error_type: Optional[str] = None) -> str:
    line = f"RESTORE_REPORT Restore Duration: {duration_ms:.2f} ms"
    return line + (f"\tStatus: error\tError Type: {error_type}" if error_type else "")


def start(request_id: str, version: str) -> str:
    return f"START RequestId: {request_id} Version: {version}"


def end(request_id: str) -> str:
    return f"END RequestId: {request_id}"


def report(fig: Report) -> str:
    parts = [
        f"REPORT RequestId: {fig.request_id}",
        f"Duration: {fig.duration_ms:.2f} ms",
        f"Billed Duration: {fig.billed_duration_ms} ms",
        f"Memory Size: {fig.memory_size_mb} MB",
        f"Max Memory Used: {fig.max_memory_used_mb} MB",
    ]
    if fig.restore_duration_ms is not None:
        parts.append(f"Restore Duration: {fig.restore_duration_ms:.2f} ms")
        parts.append(f"Billed Restore Duration: {fig.billed_restore_duration_ms} ms")
    elif fig.init_duration_ms is not None:
        parts.append(f"Init Duration: {fig.init_duration_ms:.2f} ms")
    if fig.status is not None:
        parts.append(f"Status: {fig.status}")
        if fig.error_type is not None:
            parts.append(f"Error Type: {fig.error_type}")
    return "\t".join(parts) + "\t"


def timed_out(request_id: str, message: str, now: Optional[datetime] = None) -> str:
    """``2024-01-01T00:00:00.000Z <id> Task timed out after 3.00 seconds``."""
    stamp = (now or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    return f"{stamp} {request_id} {message}"


def _listed(items: Sequence[str]) -> str:
    return "[" + ", ".join(items) + "]"


def extension(name: str, state: str, events: Sequence[str], error_type: Optional[str] = None) -> str:
    """``EXTENSION Name: x State: Ready Events: [INVOKE, SHUTDOWN]`` (tab-separated), at init's end."""
    line = f"EXTENSION\tName: {name}\tState: {state}\tEvents: {_listed(events)}"
    return line + (f"\tError Type: {error_type}" if error_type else "")


def subscription(api: str, name: str, types: Sequence[str]) -> str:
    """``TELEMETRY Name: x State: Subscribed Types: [Platform, Function]`` (``LOGS`` for the Logs API)."""
    listed = _listed([kind.capitalize() for kind in types])
    return f"{api.upper()}\tName: {name}\tState: Subscribed\tTypes: {listed}"
