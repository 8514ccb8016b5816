"""The life of one execution environment, as a pure state machine (sans-I/O).

``Init`` (process started, runtime not yet asking for work; for SnapStart, its snapshot and restore
inside it, see :mod:`~lamina.local.lifecycle.snapstart`) → ``Ready`` (runtime long-polls ``next``)
→ ``Invoking`` (an invocation was handed out) → back to ``Ready``, until the environment is ``Dead``
(exited, killed, timed out) or stuck in ``InitError``. Every Runtime API call and every process event
goes through :class:`Lifecycle`, which answers what the runtime gets back (:class:`Reply`), what to
hand to a waiting poll (:class:`Deliver`) and how the current invocation ended (:class:`Outcome`).
The aiohttp server and the subprocess code only carry bytes to and from it, so every rule of the
Runtime API is testable without a socket.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from lamina.local.lifecycle.snapstart import RestorePhase
from lamina.local.lifecycle.states import (
    ACCEPTED,
    Deliver,
    Invocation,
    InvocationPosts,
    Kind,
    NextAction,
    Outcome,
    Reply,
    State,
    Wait,
    transition_refused,
)
from lamina.local.model import function_errors
from lamina.runtime import error_types

# The states in which the pool may hand the environment an invocation (a module constant: an Enum
# member read off its class is a slow attribute lookup, and this is asked on every invocation).
_TAKES_INVOCATIONS = (State.INIT, State.READY, State.RESPONSE_SENT)


@dataclass
class Lifecycle(InvocationPosts):
    """State of one execution environment and its current invocation."""

    state: State = State.INIT
    current: Optional[Invocation] = None
    delivered: bool = False
    polling: bool = False
    init_done: bool = False
    out_of_memory: bool = False
    finished_id: Optional[str] = None  # the last invocation answered, until the next one is delivered
    init_error: Optional[Outcome] = None
    snap_start: bool = False  # the init phase ends with a snapshot and a restore
    restore: Optional[RestorePhase] = None  # from the snapshot point on
    _posted_init_error: Optional[bytes] = field(default=None, repr=False)

    # --- the pool's side -------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the pool may hand this environment a new invocation."""
        return self.current is None and self.state in _TAKES_INVOCATIONS

    def assign(self, invocation: Invocation) -> Optional[Deliver]:
        """Reserve the environment for ``invocation``; deliver now if the runtime is polling."""
        if not self.available:
            raise RuntimeError(f"environment in state {self.state.value} cannot take an invocation")
        self.current = invocation
        self.delivered = False
        if self.polling:
            return self._deliver()
        return None

    # --- Runtime API calls -----------------------------------------------------------------------

    def next_requested(self) -> NextAction:
        refused = self._next_refused()
        if refused is not None:
            return refused
        if self.state is State.INIT:
            self.init_done = True
        if self.current is not None:
            # A second next for an unanswered invocation gets the same event again, as AWS's emulator does.
            return self._deliver()
        if self.polling:
            # One poll at a time: a second concurrent next is refused, never handed the first one's
            # place (which would leave the first waiting for ever).
            return transition_refused(State.READY.value, State.READY.value)
        self.state = State.READY
        self.polling = True
        return Wait()

    def poll_abandoned(self) -> None:
        """The runtime closed its ``next`` connection before an invocation came."""
        self.polling = False

    def init_error_posted(self, body: bytes, content_type: Optional[str],
                          error_type_header: Optional[str]) -> tuple[Reply, Optional[Outcome]]:
        if self.state is not State.INIT:
            return transition_refused(self.state.value, State.INIT_ERROR.value), None
        self.state = State.INIT_ERROR
        document = function_errors.normalize_error_body(body, content_type)
        error_type = function_errors.error_type_of(error_type_header, body)
        request_id = self.current.request_id if self.current else ""
        self.init_error = Outcome(request_id, Kind.INIT_ERROR, document, error_type=error_type)
        if self.current is None:
            return ACCEPTED, None
        return ACCEPTED, self._finish(self.init_error, keep_state=True)

    # --- SnapStart: the snapshot point and the restore, inside the init phase ----------------------

    def restore_next(self, now: float) -> tuple[Optional[Reply], bool]:
        """``GET /runtime/restore/next``: the snapshot point, then the restore (an empty ``200``).

        Answers ``(reply, began)``: no reply where the path does not exist (not a SnapStart
        environment), and whether the restore began with this call (``RESTORE_START``).
        """
        if not self.snap_start:
            return None, False
        if self.state is not State.INIT:
            return transition_refused(State.READY.value, "Restoring"), False
        began = self.restore is None
        if began:
            self.restore = RestorePhase(started=now)
        return Reply(200, b""), began

    def restore_error_posted(self, now: float, body: bytes, content_type: Optional[str],
                             error_type_header: Optional[str]) -> Optional[tuple[Reply, Optional[Outcome]]]:
        """``POST /runtime/restore/error``: the after-restore hooks failed; the init fails with it."""
        if not self.snap_start:
            return None
        self.restore_finished(now)
        error_type = error_type_header or error_types.AFTER_RESTORE_ERROR
        return self.init_error_posted(body, content_type, error_type)

    def restore_finished(self, now: float) -> Optional[float]:
        """The restore is over (the runtime asks for work, or failed): its duration, the first time."""
        return self.restore.finish(now) if self.restore is not None else None

    @property
    def restore_duration_ms(self) -> Optional[float]:
        """How long the restore took: REPORT shows it instead of ``Init Duration``."""
        return self.restore.duration_ms if self.restore is not None else None

    # --- process events --------------------------------------------------------------------------

    def process_exited(self, returncode: int) -> Optional[Outcome]:
        """The runtime process ended; the current invocation (if any) fails with Lambda's document."""
        current = self.current
        self.state = State.DEAD
        self.polling = False
        if current is None:
            return None
        if self.out_of_memory:
            return self._finish(Outcome(current.request_id, Kind.OUT_OF_MEMORY,
                                        function_errors.out_of_memory(current.request_id),
                                        error_type=error_types.OUT_OF_MEMORY), keep_state=True)
        return self._finish(Outcome(current.request_id, Kind.EXIT,
                                    function_errors.runtime_exited(current.request_id, returncode),
                                    error_type=error_types.EXIT_ERROR), keep_state=True)

    def timed_out(self) -> Optional[Outcome]:
        """The current invocation ran past its timeout: the environment must be killed."""
        current = self.current
        self.state = State.DEAD
        self.polling = False
        if current is None:
            return None
        outcome = Outcome(current.request_id, Kind.TIMEOUT,
                          function_errors.timed_out(current.request_id, current.timeout),
                          error_type=error_types.SANDBOX_TIMEDOUT)
        return self._finish(outcome, keep_state=True)

    def memory_exceeded(self) -> None:
        """The environment went over its memory size; it is being killed, the exit reports it."""
        self.out_of_memory = True

    def shut_down(self) -> None:
        self.state = State.DEAD
        self.polling = False

    # --- internals -------------------------------------------------------------------------------

    def _deliver(self) -> Deliver:
        assert self.current is not None
        self.state = State.INVOKING
        self.polling = False
        self.delivered = True
        self.finished_id = None
        return Deliver(self.current)

    def _check_request_id(self, request_id: str, target: str) -> Optional[Reply]:
        if self.current is not None and self.delivered and request_id == self.current.request_id:
            return None
        if request_id == self.finished_id:
            return transition_refused(State.RESPONSE_SENT.value, target)
        return Reply.error(400, error_types.INVALID_REQUEST_ID, "Invalid request ID")

    def _finish(self, outcome: Outcome, keep_state: bool = False) -> Outcome:
        self.finished_id = outcome.request_id if self.delivered else None
        self.current = None
        self.delivered = False
        if not keep_state:
            self.state = State.RESPONSE_SENT
        return outcome
