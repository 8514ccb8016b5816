"""SnapStart's restore, as part of an execution environment's init phase (sans-I/O).

With ``snap_start`` an environment starts with ``AWS_LAMBDA_INITIALIZATION_TYPE=snap-start``. Its runtime
initialises the function, runs the before-snapshot hooks and asks ``GET /runtime/restore/next``: that
request is the snapshot point. Lambda would freeze the environment there and resume a copy later;
lamina starts environments when an invocation needs one, so the restore follows at once: the answer
(``200``, empty body) is the restore, after which the runtime runs its after-restore hooks and asks for
its first invocation. ``POST /runtime/restore/error`` (a failing after-restore hook) fails that
invocation the way Lambda's Invoke API reports it, ``SnapStartException``, and the environment is
discarded. A failing before-snapshot hook is an ordinary init error (``/init/error``).

:class:`RestorePhase` is the restore's own bookkeeping; the single-invocation
:class:`~lamina.local.lifecycle.single.Lifecycle` holds one while a SnapStart environment is restored,
and its log lines (``RESTORE_START``, ``RESTORE_REPORT``) are :mod:`~lamina.local.model.log_lines`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

SNAP_START = "snap-start"


@dataclass
class RestorePhase:
    """When a restore began and, once it is over, how long it took."""

    started: float
    duration_ms: Optional[float] = None  # once the restore is over: the REPORT line shows it

    @property
    def over(self) -> bool:
        return self.duration_ms is not None

    def finish(self, now: float) -> Optional[float]:
        """End the restore (the runtime asks for work, or failed); its duration, the first time only."""
        if self.duration_ms is not None:
            return None
        self.duration_ms = (now - self.started) * 1000
        return self.duration_ms
