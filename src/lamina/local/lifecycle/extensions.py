"""The extensions of one execution environment, as a pure state machine (sans-I/O).

Lambda starts every executable of ``/opt/extensions`` at the beginning of the init phase (external
extensions); each registers with the Extensions API (``POST /2020-01-01/extension/register``) naming
its file and the events it wants (``INVOKE``, ``SHUTDOWN``), then long-polls ``event/next``. The
runtime process may register extensions of its own (internal extensions) until it first asks for
work. Calling ``next`` is how an extension says it is done: the init phase ends when the runtime and
every registered extension have called it, and an invocation is over only when every ``INVOKE``
subscriber has called it again after receiving the invocation's event. :class:`Extensions` answers
every Extensions API call (:class:`Registered`, :class:`EventReady`, :class:`~.states.Wait`,
:class:`~.states.Reply`) and keeps the barriers; the I/O side waits on them.

States and error types are Lambda's (AWS's emulator names them the same way).
"""

from __future__ import annotations

import collections
import enum
import json
import uuid
from dataclasses import dataclass, field
from typing import Callable, Optional, Sequence, Union

from lamina.local.lifecycle.states import Reply, Wait

INVOKE = "INVOKE"
SHUTDOWN = "SHUTDOWN"
MAX_EXTENSIONS = 10  # Lambda's limit of extensions per function

# Lambda's Extensions API error types.
INVALID_NAME = "Extension.InvalidExtensionName"
REGISTRATION_CLOSED = "Extension.RegistrationClosed"
UNKNOWN_IDENTIFIER = "Extension.UnknownExtensionIdentifier"
MISSING_IDENTIFIER = "Extension.MissingExtensionIdentifier"
INVALID_STATE = "Extension.InvalidExtensionState"
MISSING_HEADER = "Extension.MissingHeader"
TOO_MANY = "Extension.TooManyExtensions"
INVALID_EVENT_TYPE = "Extension.InvalidEventType"
INVALID_REQUEST_FORMAT = "InvalidRequestFormat"
# How an invocation fails because of an extension.
CRASH = "Extension.Crash"
INIT_ERROR = "Extension.InitError"
EXIT_ERROR = "Extension.ExitError"
LAUNCH_ERROR = "Extension.LaunchError"

# SHUTDOWN's reasons, as they appear on the wire.
SPINDOWN = "spindown"
TIMEOUT = "timeout"
FAILURE = "failure"


class ExtensionState(enum.Enum):
    STARTED = "Started"  # launched, not registered yet
    REGISTERED = "Registered"
    READY = "Ready"  # waiting in next for an event
    RUNNING = "Running"  # working on the event it was given
    INIT_ERROR = "InitError"
    EXIT_ERROR = "ExitError"
    EXITED = "Exited"
    LAUNCH_ERROR = "LaunchError"


_FAILED = (ExtensionState.INIT_ERROR, ExtensionState.EXIT_ERROR, ExtensionState.LAUNCH_ERROR)
_INIT_ERROR_FROM = (ExtensionState.REGISTERED, ExtensionState.INIT_ERROR)
_EXIT_ERROR_FROM = (ExtensionState.REGISTERED, ExtensionState.READY, ExtensionState.RUNNING,
                    ExtensionState.EXIT_ERROR)


@dataclass
class Extension:
    """One extension: an executable of /opt/extensions (external) or a part of the runtime (internal)."""

    name: str
    external: bool
    identifier: str = ""
    events: tuple[str, ...] = ()
    state: ExtensionState = ExtensionState.STARTED
    error_type: Optional[str] = None
    polling: bool = False
    pending: collections.deque[bytes] = field(default_factory=collections.deque)


@dataclass(frozen=True)
class Registered:
    """The answer to ``register``: the reply and, on success, the extension's identifier."""

    reply: Reply
    identifier: Optional[str] = None


@dataclass(frozen=True)
class EventReady:
    """An event for an extension's ``next``: the JSON document it receives."""

    body: bytes


NextEvent = Union[EventReady, Wait, Reply]


def _forbidden(error_type: str, message: str) -> Reply:
    return Reply.error(403, error_type, message)


def _transition_refused(extension: Extension, target: ExtensionState) -> Reply:
    return _forbidden(INVALID_STATE, f"State transition from {extension.state.value} to {target.value} "
                      f"failed for extension {extension.name}. Error: State transition is not allowed")


def _json(document: dict[str, object]) -> bytes:
    return json.dumps(document, separators=(",", ":")).encode()


class Extensions:
    """The extensions of one environment: registration, events, and the init and invoke barriers."""

    def __init__(self, external_names: Sequence[str], *, function_name: str, function_version: str,
                 handler: str, account_id: str,
                 new_identifier: Callable[[], str] = lambda: str(uuid.uuid4())) -> None:
        self._metadata = {"functionName": function_name, "functionVersion": function_version,
                          "handler": handler}
        self._account_id = account_id
        self._new_identifier = new_identifier
        self._by_name = {name: Extension(name, external=True) for name in external_names}
        self._by_id: dict[str, Extension] = {}
        self.registration_open = True
        self.shutting_down = False
        self.failure: Optional[tuple[str, str]] = None  # (error type, message) that fails the environment

    # --- what the environment asks ---------------------------------------------------------------

    @property
    def all(self) -> list[Extension]:
        return list(self._by_name.values())

    @property
    def registered(self) -> list[Extension]:
        return [ext for ext in self._by_name.values() if ext.identifier]

    @property
    def any_registered(self) -> bool:
        """Whether any extension registered (asked on every invocation; there are usually none)."""
        return bool(self._by_name) and any(ext.identifier for ext in self._by_name.values())

    @property
    def all_registered(self) -> bool:
        """Every external extension registered (or failed): the runtime may start."""
        return self.failure is not None or all(ext.identifier or ext.state in _FAILED
                                               for ext in self._by_name.values() if ext.external)

    @property
    def init_done(self) -> bool:
        """Every registered extension called ``next`` (the init phase's part of the extensions)."""
        return self.failure is None and all(ext.state is ExtensionState.READY for ext in self.registered)

    def subscribed(self, event: str) -> list[Extension]:
        return [ext for ext in self.registered if event in ext.events]

    @property
    def invoke_done(self) -> bool:
        """Every ``INVOKE`` subscriber is back in ``next`` with nothing left to read."""
        return self.failure is not None or all(ext.state is ExtensionState.READY and not ext.pending
                                               for ext in self.subscribed(INVOKE))

    @property
    def only_internal(self) -> bool:
        return bool(self.registered) and not any(ext.external for ext in self.registered)

    @property
    def failure_message(self) -> Optional[str]:
        return None if self.failure is None else self.failure[1]

    def fail(self, error_type: str, message: str) -> None:
        """The environment fails because of its extensions (the first failure is the one reported)."""
        if self.failure is None:
            self.failure = (error_type, message)

    def close_registration(self) -> None:
        """The runtime asked for its first invocation: no more internal extensions."""
        self.registration_open = False

    # --- Extensions API calls ----------------------------------------------------------------------

    def register(self, name: Optional[str], body: bytes, features: Optional[str]) -> Registered:
        if not name:
            return Registered(_forbidden(INVALID_NAME, "Empty extension name"))
        try:
            document = json.loads(body or b"{}")
            if not isinstance(document, dict):
                raise ValueError("expected a JSON object")
            events = document.get("events", [])
            if not isinstance(events, list) or not all(isinstance(event, str) for event in events):
                raise ValueError("events must be a list of strings")
        except ValueError as exc:
            return Registered(_forbidden(INVALID_REQUEST_FORMAT, str(exc)))
        if document.get("configurationKeys"):
            message = "configurationKeys are deprecated; use environment variables instead"
            return Registered(_forbidden(INVALID_REQUEST_FORMAT, message))
        extension = self._by_name.get(name)
        if extension is None:  # not an executable of /opt/extensions: an internal extension
            refused = self._internal_refused(events)
            if refused is not None:
                return Registered(refused)
            extension = self._by_name[name] = Extension(name, external=False)
        for event in events:
            if event not in (INVOKE, SHUTDOWN) or (event == SHUTDOWN and not extension.external):
                reason = ("ShutdownEventNotSupportedForInternalExtension" if event == SHUTDOWN
                          else "ErrorInvalidEventType")
                return Registered(_forbidden(INVALID_EVENT_TYPE, f"{event}: {reason}"))
        if extension.state is not ExtensionState.STARTED:
            return Registered(_transition_refused(extension, ExtensionState.REGISTERED))
        extension.identifier = self._new_identifier()
        extension.events = tuple(dict.fromkeys(events))
        extension.state = ExtensionState.REGISTERED
        self._by_id[extension.identifier] = extension
        answer: dict[str, object] = dict(self._metadata)
        if "accountId" in {feature.strip() for feature in (features or "").split(",")}:
            answer = {"accountId": self._account_id, **answer}
        return Registered(Reply(200, _json(answer)), extension.identifier)

    def next_requested(self, identifier: Optional[str]) -> NextEvent:
        extension, refused = self._find(identifier)
        if extension is None:
            assert refused is not None
            return refused
        if extension.state not in (ExtensionState.REGISTERED, ExtensionState.RUNNING, ExtensionState.READY):
            return _transition_refused(extension, ExtensionState.READY)
        if extension.polling:
            return _transition_refused(extension, ExtensionState.READY)
        extension.state = ExtensionState.READY
        if extension.pending:
            return self._hand(extension)
        extension.polling = True
        return Wait()

    def poll_abandoned(self, identifier: str) -> None:
        extension = self._by_id.get(identifier)
        if extension is not None:
            extension.polling = False

    def error_posted(self, identifier: Optional[str], error_type: Optional[str], *, exiting: bool) -> Reply:
        """``init/error`` (``exiting`` False) or ``exit/error``: the extension reports a failure."""
        extension, refused = self._find(identifier)
        if extension is None:
            assert refused is not None
            return refused
        if not error_type:
            return _forbidden(MISSING_HEADER, "Lambda-Extension-Function-Error-Type not found")
        target = ExtensionState.EXIT_ERROR if exiting else ExtensionState.INIT_ERROR
        allowed = _EXIT_ERROR_FROM if exiting else _INIT_ERROR_FROM
        if extension.state not in allowed:
            return _transition_refused(extension, target)
        extension.state = target
        extension.error_type = error_type
        if not self.shutting_down:
            self.fail(EXIT_ERROR if exiting else INIT_ERROR, f"{extension.name} reported {error_type}")
        return Reply(202, b'{"status":"OK"}\n')

    # --- process and environment events ----------------------------------------------------------

    def launch_failed(self, name: str, message: str) -> None:
        extension = self._by_name[name]
        extension.state = ExtensionState.LAUNCH_ERROR
        extension.error_type = LAUNCH_ERROR
        self.fail(LAUNCH_ERROR, message)

    def exited(self, name: str, description: str) -> None:
        """An external extension's process ended: a crash, unless the environment is shutting down."""
        extension = self._by_name.get(name)
        if extension is None:
            return
        if extension.state not in _FAILED:
            extension.state = ExtensionState.EXITED
        extension.polling = False
        if not self.shutting_down:
            self.fail(CRASH, description)

    def invoke(self, request_id: str, deadline_ms: int, function_arn: str,
               trace_id: Optional[str]) -> list[tuple[str, bytes]]:
        """An invocation starts: ``INVOKE`` for every subscriber; returns what polling ones get now."""
        document: dict[str, object] = {"eventType": INVOKE, "deadlineMs": deadline_ms,
                                       "requestId": request_id, "invokedFunctionArn": function_arn}
        if trace_id:
            document["tracing"] = {"type": "X-Amzn-Trace-Id", "value": trace_id}
        return self._broadcast(INVOKE, _json(document))

    def shutdown(self, reason: str, deadline_ms: int) -> list[tuple[str, bytes]]:
        """The environment stops: ``SHUTDOWN`` for every subscriber; returns what polling ones get now."""
        self.shutting_down = True
        document = {"eventType": SHUTDOWN, "deadlineMs": deadline_ms, "shutdownReason": reason}
        return self._broadcast(SHUTDOWN, _json(document))

    # --- internals -------------------------------------------------------------------------------

    def _internal_refused(self, events: list[str]) -> Optional[Reply]:
        if not self.registration_open:
            return _forbidden(REGISTRATION_CLOSED, "Extension registration closed already")
        if len(self._by_name) >= MAX_EXTENSIONS:
            return _forbidden(TOO_MANY, f"Extension limit ({MAX_EXTENSIONS}) reached")
        return None

    def _find(self, identifier: Optional[str]) -> tuple[Optional[Extension], Optional[Reply]]:
        if not identifier:
            return None, _forbidden(MISSING_IDENTIFIER, "Missing Lambda-Extension-Identifier header")
        extension = self._by_id.get(identifier)
        if extension is None:
            return None, _forbidden(UNKNOWN_IDENTIFIER, f"Unknown extension {identifier}")
        return extension, None

    def _broadcast(self, event: str, body: bytes) -> list[tuple[str, bytes]]:
        delivered = []
        for extension in self.subscribed(event):
            if extension.state in _FAILED or extension.state is ExtensionState.EXITED:
                continue
            extension.pending.append(body)
            if extension.polling:
                ready = self._hand(extension)
                delivered.append((extension.identifier, ready.body))
        return delivered

    def _hand(self, extension: Extension) -> EventReady:
        extension.polling = False
        extension.state = ExtensionState.RUNNING
        return EventReady(extension.pending.popleft())
