"""The life of a Lambda Managed Instances environment: several invocations at once (sans-I/O).

Where :class:`~lamina.local.lifecycle.single.Lifecycle` holds one invocation, this holds up to ``capacity``
(``AWS_LAMBDA_MAX_CONCURRENCY``): invocations wait in ``pending`` until one of the runtime's pollers
asks ``next``, then run in ``running`` until their response or error names them by request id. A
timeout fails only its own invocation, and the environment keeps serving the others, since on a managed
instance one slow request must not take down the requests running beside it. A crash or an init error
fails every invocation the environment holds. States and Runtime API answers are Lambda's, shared with
the single-invocation lifecycle.
"""

from __future__ import annotations

import collections
from dataclasses import dataclass, field
from typing import Callable, Optional

from lamina.local.lifecycle.states import (
    ACCEPTED,
    Invocation,
    InvocationPosts,
    Kind,
    Outcome,
    Reply,
    State,
    transition_refused,
)
from lamina.local.model import function_errors
from lamina.runtime import error_types

_REMEMBERED = 1024  # finished request ids kept to answer a late post with 403 rather than 400


@dataclass
class ManagedLifecycle(InvocationPosts):
    capacity: int
    state: State = State.INIT
    init_done: bool = False
    out_of_memory: bool = False
    init_error: Optional[Outcome] = None
    pending: collections.deque[Invocation] = field(default_factory=collections.deque)
    running: dict[str, Invocation] = field(default_factory=dict)
    _finished: collections.OrderedDict[str, None] = field(default_factory=collections.OrderedDict)

    # --- the pool's side -------------------------------------------------------------------------

    @property
    def held(self) -> int:
        return len(self.pending) + len(self.running)

    @property
    def available(self) -> bool:
        return self.state in (State.INIT, State.READY) and self.held < self.capacity

    def assign(self, invocation: Invocation) -> None:
        if not self.available:
            raise RuntimeError(f"environment in state {self.state.value} holding {self.held} is full")
        self.pending.append(invocation)

    def take(self) -> Optional[Invocation]:
        """The next pending invocation, now running (a poller asked for it); None if none waits."""
        if not self.pending or self.state is not State.READY:
            return None
        invocation = self.pending.popleft()
        self.running[invocation.request_id] = invocation
        return invocation

    # --- Runtime API calls -----------------------------------------------------------------------

    def next_requested(self) -> Optional[Reply]:
        """A poller asks for work: None to proceed (take or wait), else the refusal."""
        refused = self._next_refused()
        if refused is None and self.state is State.INIT:
            self.init_done = True
            self.state = State.READY
        return refused

    def init_error_posted(self, body: bytes, content_type: Optional[str],
                          error_type_header: Optional[str]) -> tuple[Reply, list[Outcome]]:
        if self.state is not State.INIT:
            return transition_refused(self.state.value, State.INIT_ERROR.value), []
        self.state = State.INIT_ERROR
        document = function_errors.normalize_error_body(body, content_type)
        error_type = function_errors.error_type_of(error_type_header, body)
        self.init_error = Outcome("", Kind.INIT_ERROR, document, error_type=error_type)
        return ACCEPTED, self._fail_all(lambda invocation: Outcome(
            invocation.request_id, Kind.INIT_ERROR, document, error_type=error_type))

    # --- process events --------------------------------------------------------------------------

    def process_exited(self, returncode: int) -> list[Outcome]:
        self.state = State.DEAD
        if self.out_of_memory:
            return self._fail_all(lambda inv: Outcome(
                inv.request_id, Kind.OUT_OF_MEMORY, function_errors.out_of_memory(inv.request_id),
                error_type=error_types.OUT_OF_MEMORY))
        return self._fail_all(lambda inv: Outcome(
            inv.request_id, Kind.EXIT, function_errors.runtime_exited(inv.request_id, returncode),
            error_type=error_types.EXIT_ERROR))

    def timed_out(self, request_id: str) -> Optional[Outcome]:
        """One invocation ran past its timeout; only it fails."""
        invocation = self.running.get(request_id)
        if invocation is None:
            invocation = next((inv for inv in self.pending if inv.request_id == request_id), None)
            if invocation is None:
                return None
            self.pending.remove(invocation)
            self.running[request_id] = invocation
        return self._finish(Outcome(request_id, Kind.TIMEOUT,
                                    function_errors.timed_out(request_id, invocation.timeout),
                                    error_type=error_types.SANDBOX_TIMEDOUT))

    def memory_exceeded(self) -> None:
        self.out_of_memory = True

    def shut_down(self) -> None:
        self.state = State.DEAD

    # --- internals -------------------------------------------------------------------------------

    def _check_request_id(self, request_id: str, target: str) -> Optional[Reply]:
        if request_id in self.running:
            return None
        if request_id in self._finished:
            return transition_refused(State.RESPONSE_SENT.value, target)
        return Reply.error(400, error_types.INVALID_REQUEST_ID, "Invalid request ID")

    def _finish(self, outcome: Outcome) -> Outcome:
        self.running.pop(outcome.request_id, None)
        self._finished[outcome.request_id] = None
        if len(self._finished) > _REMEMBERED:
            self._finished.popitem(last=False)
        return outcome

    def _fail_all(self, outcome_for: Callable[[Invocation], Outcome]) -> list[Outcome]:
        held = [*self.pending, *self.running.values()]
        self.pending.clear()
        return [self._finish(outcome_for(invocation)) for invocation in held]
