"""The life of one execution environment, as a pure state machine (sans-I/O).

``Init`` (process started, runtime not yet asking for work) → ``Ready`` (runtime long-polls ``next``)
→ ``Invoking`` (an invocation was handed out) → back to ``Ready``, until the environment is ``Dead``
(exited, killed, timed out) or stuck in ``InitError``. Every Runtime API call and every process event
goes through :class:`Lifecycle`, which answers what the runtime gets back (:class:`Reply`), what to
hand to a waiting poll (:class:`Deliver`) and how the current invocation ended (:class:`Outcome`).
The aiohttp server and the subprocess code only carry bytes to and from it, so every rule of the
Runtime API is testable without a socket.
"""

from __future__ import annotations

import enum
import json
from dataclasses import dataclass, field
from typing import Optional, Union

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


@dataclass(frozen=True)
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
    # Where a streamed response goes as it arrives (a lamina.local.invoke.streaming.StreamRelay); None:
    # the caller takes the response whole. Opaque here: the lifecycle never touches bytes.
    relay: Optional[object] = field(default=None, compare=False, repr=False)

    def next_headers(self, deadline_ms: int) -> dict[str, str]:
        headers = {
            protocol.HEADER_REQUEST_ID: self.request_id,
            protocol.HEADER_DEADLINE_MS: str(deadline_ms),
            protocol.HEADER_FUNCTION_ARN: self.function_arn,
            protocol.HEADER_INVOCATION_ID: self.request_id,
        }
        optional = (
            (protocol.HEADER_TRACE_ID, self.trace_id),
            (protocol.HEADER_CLIENT_CONTEXT, self.client_context),
            (protocol.HEADER_COGNITO_IDENTITY, self.cognito_identity),
            (protocol.HEADER_TENANT_ID, self.tenant_id),
        )
        headers.update((name, value) for name, value in optional if value is not None)
        return headers


@dataclass(frozen=True)
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


def _transition_refused(source: str, target: str) -> Reply:
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


class InvocationPosts:
    """``/response`` and ``/error`` for an invocation named by request id, the same in every lifecycle;
    each lifecycle says which ids it accepts (``_check_request_id``) and how one ends (``_finish``)."""

    def _check_request_id(self, request_id: str, target: str) -> Optional[Reply]:
        raise NotImplementedError

    def _finish(self, outcome: Outcome) -> Outcome:
        raise NotImplementedError

    def _next_refused(self) -> Optional[Reply]:
        """Why ``next`` cannot be answered now (after an init error, or during shutdown), if it can't.

        Lifecycles that use it have a ``state`` attribute."""
        state = self.state  # type: ignore[attr-defined]
        if state is State.INIT_ERROR:
            return _transition_refused(State.INIT_ERROR.value, State.READY.value)
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
    _posted_init_error: Optional[bytes] = field(default=None, repr=False)

    # --- the pool's side -------------------------------------------------------------------------

    @property
    def available(self) -> bool:
        """Whether the pool may hand this environment a new invocation."""
        return self.current is None and self.state in (State.INIT, State.READY, State.RESPONSE_SENT)

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
        self.state = State.READY
        self.polling = True
        return Wait()

    def poll_abandoned(self) -> None:
        """The runtime closed its ``next`` connection before an invocation came."""
        self.polling = False

    def init_error_posted(self, body: bytes, content_type: Optional[str],
                          error_type_header: Optional[str]) -> tuple[Reply, Optional[Outcome]]:
        if self.state is not State.INIT:
            return _transition_refused(self.state.value, State.INIT_ERROR.value), None
        self.state = State.INIT_ERROR
        document = function_errors.normalize_error_body(body, content_type)
        error_type = function_errors.error_type_of(error_type_header, body)
        request_id = self.current.request_id if self.current else ""
        self.init_error = Outcome(request_id, Kind.INIT_ERROR, document, error_type=error_type)
        if self.current is None:
            return ACCEPTED, None
        return ACCEPTED, self._finish(self.init_error, keep_state=True)

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
            return _transition_refused(State.RESPONSE_SENT.value, target)
        return Reply.error(400, error_types.INVALID_REQUEST_ID, "Invalid request ID")

    def _finish(self, outcome: Outcome, keep_state: bool = False) -> Outcome:
        self.finished_id = outcome.request_id if self.delivered else None
        self.current = None
        self.delivered = False
        if not keep_state:
            self.state = State.RESPONSE_SENT
        return outcome
