"""SnapStart, simulated: init → snapshot → restore → invocations in one execution environment.

With ``snap_start`` an environment starts with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``. Its runtime
initialises the function, runs the before-snapshot hooks and asks ``GET /runtime/restore/next``: that
request is the snapshot point. Lambda would freeze the environment there and resume a copy later;
lamina starts environments when an invocation needs one, so the restore follows at once: the answer
(``200``, empty body) is the restore, after which the runtime runs its after-restore hooks and asks for
its first invocation. ``POST /runtime/restore/error`` (a failing after-restore hook) fails that
invocation the way Lambda's Invoke API reports it, ``SnapStartException``, and the environment is
discarded. A failing before-snapshot hook is an ordinary init error (``/init/error``).

Log lines follow Lambda's: ``RESTORE_START`` when the restore begins, ``RESTORE_REPORT Restore
Duration: …`` when the runtime is ready for invocations (or failed).
"""

from __future__ import annotations

import time
import weakref
from dataclasses import dataclass
from typing import Optional, Protocol

from lamina.local.invoke.streaming import error_details
from lamina.local.lifecycle.single import Reply, State
from lamina.local.model.service_errors import ServiceError
from lamina.runtime import error_types

SNAP_START = "snap-start"
SNAPSTART_EXCEPTION = "SnapStartException"


@dataclass
class RestorePhase:
    """Where one environment is in the snapshot/restore cycle (pure bookkeeping)."""

    restore_started: Optional[float] = None
    reported: bool = False
    duration_ms: Optional[float] = None  # once the restore is over: the REPORT line shows it

    def begin(self, now: float) -> Optional[str]:
        """The runtime reached the snapshot point; the RESTORE_START line, or None if already restored."""
        if self.restore_started is not None:
            return None
        self.restore_started = now
        return "RESTORE_START"

    def finish(self, now: float, error_type: Optional[str] = None) -> Optional[str]:
        """The restore is over (the runtime asks for work, or failed); the RESTORE_REPORT line, once."""
        if self.restore_started is None or self.reported:
            return None
        self.reported = True
        self.duration_ms = (now - self.restore_started) * 1000
        line = f"RESTORE_REPORT Restore Duration: {self.duration_ms:.2f} ms"
        if error_type is not None:
            line += f"\tStatus: error\tError Type: {error_type}"
        return line


class SnapStartEnvironment(Protocol):
    """The parts of an execution environment a restore touches."""

    @property
    def config(self) -> object: ...

    @property
    def lifecycle(self) -> object: ...

    def on_init_error(self, body: bytes, content_type: Optional[str], error_type: Optional[str]) -> Reply: ...


_phases: weakref.WeakKeyDictionary[object, RestorePhase] = weakref.WeakKeyDictionary()


def _log(environment: object, line: str) -> None:
    # The environment's own log writer: the terminal and the current invocation's log (LogResult).
    environment._emit(line)  # type: ignore[attr-defined]


def enabled(environment: object) -> bool:
    return bool(getattr(getattr(environment, "config", None), "snap_start", False))


def _runtime_version(environment: object) -> str:
    return str(getattr(getattr(environment, "config", None), "runtime_name", ""))


def restore_next(environment: SnapStartEnvironment) -> Optional[Reply]:
    """``GET /runtime/restore/next``: the snapshot point, then the restore (an empty ``200``).

    None when the environment is not a SnapStart one (the path does not exist there).
    """
    if not enabled(environment):
        return None
    if getattr(environment.lifecycle, "state", None) is not State.INIT:
        return Reply.error(403, error_types.INVALID_STATE_TRANSITION,
                           "State transition from Ready to Restoring failed for runtime. "
                           "Error: State transition is not allowed")
    phase = _phases.setdefault(environment, RestorePhase())
    line = phase.begin(time.perf_counter())
    if line is not None:
        _log(environment, f"{line} Runtime Version: {_runtime_version(environment)}")
    return Reply(200, b"")


def restore_error(environment: SnapStartEnvironment, body: bytes, content_type: Optional[str],
                  error_type: Optional[str]) -> Optional[Reply]:
    """``POST /runtime/restore/error``: the after-restore hooks failed; the environment is discarded."""
    if not enabled(environment):
        return None
    error_type = error_type or error_types.AFTER_RESTORE_ERROR
    phase = _phases.get(environment)
    line = phase.finish(time.perf_counter(), error_type) if phase is not None else None
    if line is not None:
        _log(environment, line)
    return environment.on_init_error(body, content_type, error_type)


def next_requested(environment: SnapStartEnvironment) -> None:
    """The runtime asks for work: a pending restore is over."""
    phase = _phases.get(environment)
    if phase is not None and not phase.reported:
        line = phase.finish(time.perf_counter())
        if line is not None:
            _log(environment, line)


def restore_duration_ms(environment: object) -> Optional[float]:
    """How long the environment's restore took, if it was restored from a snapshot.

    Lambda's REPORT line shows this (``Restore Duration``) instead of ``Init Duration`` on a restored
    environment's first invocation.
    """
    phase = _phases.get(environment)
    return phase.duration_ms if phase is not None else None


def restore_failed(document: bytes) -> ServiceError:
    """What the Invoke API answers when the after-restore hooks failed (Lambda's ``SnapStartException``).

    The message names the runtime's error type and the hook's own message, from its error document.
    """
    message = error_details(document)
    return ServiceError(SNAPSTART_EXCEPTION,
                        "The afterRestore() runtime hook encountered an error "
                        f"({error_types.AFTER_RESTORE_ERROR}: {message}). "
                        "For more information, check the Amazon CloudWatch logs.", status=400)
