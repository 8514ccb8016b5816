"""The words every lifecycle of an execution environment shares (sans-I/O).

States and outcome kinds are Lambda's; :class:`Invocation` is what the runtime sees on ``next``;
:class:`Reply`, :class:`Deliver` and :class:`Wait` are what a lifecycle answers the Runtime API;
:class:`Outcome` is how an invocation ended. :class:`InvocationPosts` is ``/response`` and ``/error``,
the same in the single-invocation (:mod:`~lamina.local.lifecycle.single`) and managed-instances
(:mod:`~lamina.local.lifecycle.managed`) lifecycles.
"""


from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Callable, Optional, Protocol, Sequence, Union

from lamina.local.model import function_errors
from lamina.runtime import error_types, protocol


class State(enum.Enum):
    # Values are the state names Lambda uses in its InvalidStateTransition messages.
    INIT = "Init"
    READY = "Ready"
    INVOKING = "Invoking"
    RESPONSE_SENT = "RuntimeResponseSentState"
    INIT_ERROR = "InitError"
    DEAD = "Dead"


class Kind(enum.Enum):
    """How an invocation ended."""

    RESPONSE = "response"
    ERROR = "error"  # the runtime posted /error (the handler raised)
    INIT_ERROR = "init_error"  # the runtime posted /init/error
    TIMEOUT = "timeout"
    EXIT = "exit"  # the runtime exited or crashed
    OUT_OF_MEMORY = "out_of_memory"
    RESPONSE_TOO_LARGE = "response_too_large"


# Writes an invocation to the runtime whose ``next`` is parked, as it is handed over (the Runtime API's
# answer, written by no task); False if it could not (the poll's connection is gone).
Deliverer = Callable[["Invocation", int], bool]


# Not frozen: one is made per invocation, and a frozen dataclass's __init__ sets each field through
# object.__setattr__ (several times the cost); nothing changes it after it is made.
@dataclass
class Invocation:
    """One invocation as the runtime will see it on ``next``."""

    request_id: str
    payload: bytes
    function_arn: str
    timeout: float
    content_type: str = protocol.CONTENT_TYPE_JSON
    client_context: Optional[str] = None
    cognito_identity: Optional[str] = None
    tenant_id: Optional[str] = None
    trace_id: Optional[str] = None
    # Whether the caller reads the invocation's log (LogType Tail): if not, END and REPORT are written
    # after its answer instead of before it, since nothing it receives depends on them.
    log_wanted: bool = True
    # Where a streamed response goes as it arrives (a lamina.local.runtime_api.relay.StreamRelay); None:
    # the caller takes the response whole. Opaque here: the lifecycle never touches bytes.
    relay: Optional[object] = field(default=None, compare=False, repr=False)

    def next_headers(self, deadline_ms: int) -> dict[str, str]:
        headers = {
            protocol.HEADER_REQUEST_ID: self.request_id,
            protocol.HEADER_DEADLINE_MS: str(deadline_ms),
            protocol.HEADER_FUNCTION_ARN: self.function_arn,
            protocol.HEADER_INVOCATION_ID: self.request_id,
        }
        if self.trace_id is not None:
            headers[protocol.HEADER_TRACE_ID] = self.trace_id
        if self.client_context is not None:
            headers[protocol.HEADER_CLIENT_CONTEXT] = self.client_context
        if self.cognito_identity is not None:
            headers[protocol.HEADER_COGNITO_IDENTITY] = self.cognito_identity
        if self.tenant_id is not None:
            headers[protocol.HEADER_TENANT_ID] = self.tenant_id
        return headers


# Not frozen: one is made per invocation, and a frozen dataclass's __init__ sets each field through
# object.__setattr__ (several times the cost); nothing changes it after it is made.
@dataclass
class Outcome:
    """The end of an invocation: what the caller receives and what the REPORT line says."""

    request_id: str
    kind: Kind
    body: bytes
    content_type: str = protocol.CONTENT_TYPE_JSON
    error_type: Optional[str] = None  # None on success

    @property
    def failed(self) -> bool:
        return self.kind is not Kind.RESPONSE


@dataclass(frozen=True)
class Reply:
    """The Runtime API's answer to the runtime."""

    status: int
    body: bytes

    @classmethod
    def error(cls, status: int, error_type: str, message: str) -> Reply:
        # Runtime API error bodies put errorMessage first, unlike the invoke-side documents, and end
        # with a newline (Lambda's Go JSON encoder writes one).
        body = json.dumps({"errorMessage": message, "errorType": error_type}, separators=(",", ":"))
        return cls(status, body.encode() + b"\n")


ACCEPTED = Reply(202, b'{"status":"OK"}\n')


@dataclass(frozen=True)
class Deliver:
    """Hand this invocation to the runtime's pending ``next``."""

    invocation: Invocation


@dataclass(frozen=True)
class Wait:
    """No invocation yet: keep the ``next`` poll open."""


NextAction = Union[Deliver, Wait, Reply]


def transition_refused(source: str, target: str) -> Reply:
    return Reply.error(403, error_types.INVALID_STATE_TRANSITION,
                       f"State transition from {source} to {target} failed for runtime. "
                       "Error: State transition is not allowed")


def response_outcome(request_id: str, body_size: int, body: bytes,
                     content_type: str) -> tuple[Reply, Outcome]:
    """What a posted response means for its invocation: the result, or over the limit (413 to the
    runtime, ``Function.ResponseSizeTooLarge`` to the caller). Shared by every lifecycle."""
    if body_size > protocol.MAX_SYNC_RESPONSE:
        outcome = Outcome(request_id, Kind.RESPONSE_TOO_LARGE, function_errors.response_too_large(),
                          error_type=error_types.RESPONSE_SIZE_TOO_LARGE)
        message = f"Exceeded maximum allowed payload size ({protocol.MAX_SYNC_RESPONSE} bytes)."
        return Reply.error(413, error_types.REQUEST_ENTITY_TOO_LARGE_RUNTIME, message), outcome
    return ACCEPTED, Outcome(request_id, Kind.RESPONSE, body, content_type)


def error_outcome(request_id: str, body: bytes, content_type: Optional[str],
                  error_type_header: Optional[str]) -> Outcome:
    """What a posted ``/error`` means for its invocation (the document as Lambda forwards it)."""
    return Outcome(request_id, Kind.ERROR, function_errors.normalize_error_body(body, content_type),
                   error_type=function_errors.error_type_of(error_type_header, body))


_NO_NEXT = (State.INIT_ERROR, State.DEAD)  # states in which ``next`` is refused


class InvocationPosts:
    """``/response`` and ``/error`` for an invocation named by request id, the same in every lifecycle;
    each lifecycle says which ids it accepts (``_check_request_id``) and how one ends (``_finish``)."""

    state: State

    def _check_request_id(self, request_id: str, target: str) -> Optional[Reply]:
        raise NotImplementedError

    def _finish(self, outcome: Outcome) -> Outcome:
        raise NotImplementedError

    def _next_refused(self) -> Optional[Reply]:
        """Why ``next`` cannot be answered now (after an init error, or during shutdown), if it can't."""
        state = self.state
        if state not in _NO_NEXT:
            return None
        if state is State.INIT_ERROR:
            return transition_refused(State.INIT_ERROR.value, State.READY.value)
        if state is State.DEAD:
            return Reply.error(500, "Runtime.Unavailable", "Execution environment is shutting down")
        return None

    def response_posted(self, request_id: str, body_size: int, body: bytes,
                        content_type: str = protocol.CONTENT_TYPE_JSON) -> tuple[Reply, Optional[Outcome]]:
        refused = self._check_request_id(request_id, "InvocationResponse")
        if refused is not None:
            return refused, None
        reply, outcome = response_outcome(request_id, body_size, body, content_type)
        return reply, self._finish(outcome)

    def error_posted(self, request_id: str, body: bytes, content_type: Optional[str],
                     error_type_header: Optional[str]) -> tuple[Reply, Optional[Outcome]]:
        refused = self._check_request_id(request_id, "InvocationErrorResponse")
        if refused is not None:
            return refused, None
        return ACCEPTED, self._finish(error_outcome(request_id, body, content_type, error_type_header))


Outcomes = Union[Outcome, Sequence[Outcome], None]


def outcomes(ended: Outcomes) -> Sequence[Outcome]:
    """The invocations an event ended: none, one, or (managed instances) several."""
    if ended is None:
        return ()
    return (ended,) if isinstance(ended, Outcome) else ended


class EnvironmentLifecycle(Protocol):
    """What the process side of an environment asks of its lifecycle, whichever kind it is."""

    @property
    def state(self) -> State: ...

    @property
    def init_done(self) -> bool: ...

    @property
    def available(self) -> bool: ...

    def memory_exceeded(self) -> None: ...

    def response_posted(self, request_id: str, body_size: int, body: bytes,
                        content_type: str = ...) -> tuple[Reply, Optional[Outcome]]: ...

    def error_posted(self, request_id: str, body: bytes, content_type: Optional[str],
                     error_type_header: Optional[str]) -> tuple[Reply, Optional[Outcome]]: ...

    def shut_down(self) -> None: ...

    def process_exited(self, returncode: int) -> Outcomes: ...

    def init_error_posted(self, body: bytes, content_type: Optional[str],
                          error_type_header: Optional[str]) -> tuple[Reply, Outcomes]: ...
