"""The extensions' state machine and the Telemetry API's subscriptions, without sockets."""

from __future__ import annotations

import itertools
import json

from lamina.local.lifecycle import extensions as ext
from lamina.local.lifecycle.extensions import EventReady, Extensions
from lamina.local.lifecycle.states import Reply, Wait
from lamina.local.lifecycle.telemetry import Backlog, Subscription, TelemetryBuffer, parse_subscription
from lamina.local.model import log_lines, telemetry_events


def _extensions(*external: str) -> Extensions:
    counter = itertools.count(1)
    return Extensions(list(external), function_name="fn", function_version="$LATEST", handler="app.handler",
                      account_id="123456789012", new_identifier=lambda: f"id-{next(counter)}")


def _error_type(reply: object) -> str:
    assert isinstance(reply, Reply)
    return str(json.loads(reply.body)["errorType"])


def test_register_answers_the_identifier_and_the_documented_body_with_account_id_on_request() -> None:
    state = _extensions("agent")
    registered = state.register("agent", b'{"events": ["INVOKE", "SHUTDOWN"]}', "accountId")
    assert registered.identifier == "id-1" and registered.reply.status == 200
    assert json.loads(registered.reply.body) == {"accountId": "123456789012", "functionName": "fn",
                                                 "functionVersion": "$LATEST", "handler": "app.handler"}
    plain = _extensions("agent").register("agent", b'{"events": []}', None)
    assert "accountId" not in json.loads(plain.reply.body)


def test_registration_refusals_carry_lambdas_error_types() -> None:
    state = _extensions("agent")
    def refusal(name: str, body: bytes) -> str:
        return _error_type(state.register(name, body, None).reply)

    assert refusal("", b"{}") == ext.INVALID_NAME
    assert refusal("agent", b'{"events": ["BOGUS"]}') == ext.INVALID_EVENT_TYPE
    assert refusal("agent", b"not json") == ext.INVALID_REQUEST_FORMAT
    assert state.register("agent", b"{}", None).identifier is not None
    assert refusal("agent", b"{}") == ext.INVALID_STATE  # twice
    # internal extensions: no SHUTDOWN, and only until the runtime asks for work
    assert refusal("inproc", b'{"events": ["SHUTDOWN"]}') == ext.INVALID_EVENT_TYPE
    state.close_registration()
    assert refusal("late", b'{"events": ["INVOKE"]}') == ext.REGISTRATION_CLOSED


def test_init_waits_for_every_registration_then_for_every_next() -> None:
    state = _extensions("a", "b")
    first = state.register("a", b'{"events": ["INVOKE"]}', None).identifier
    assert not state.all_registered
    second = state.register("b", b'{"events": ["SHUTDOWN"]}', None).identifier
    assert state.all_registered and not state.init_done
    assert isinstance(state.next_requested(first), Wait)
    assert not state.init_done
    assert isinstance(state.next_requested(second), Wait)
    assert state.init_done


def test_invoke_goes_to_subscribers_and_the_invocation_ends_when_they_call_next_again() -> None:
    state = _extensions("a", "b")
    a = state.register("a", b'{"events": ["INVOKE"]}', None).identifier
    b = state.register("b", b'{"events": ["SHUTDOWN"]}', None).identifier
    state.next_requested(a)
    state.next_requested(b)
    delivered = state.invoke("req-1", 1234, "arn:aws:lambda:us-east-1:123456789012:function:fn", "Root=1-x")
    assert [identifier for identifier, _ in delivered] == [a]
    assert json.loads(delivered[0][1]) == {
        "eventType": "INVOKE", "deadlineMs": 1234, "requestId": "req-1",
        "invokedFunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
        "tracing": {"type": "X-Amzn-Trace-Id", "value": "Root=1-x"}}
    assert not state.invoke_done
    assert isinstance(state.next_requested(a), Wait)
    assert state.invoke_done


def test_an_event_that_comes_while_the_extension_works_waits_for_its_next() -> None:
    state = _extensions("a")
    a = state.register("a", b'{"events": ["INVOKE", "SHUTDOWN"]}', None).identifier
    assert state.invoke("req-1", 1, "arn", None) == []  # not polling yet: kept
    answer = state.next_requested(a)
    assert isinstance(answer, EventReady) and json.loads(answer.body)["requestId"] == "req-1"
    shutdown = state.shutdown(ext.SPINDOWN, 99)
    assert shutdown == []
    answer = state.next_requested(a)
    assert isinstance(answer, EventReady)
    assert json.loads(answer.body) == {"eventType": "SHUTDOWN", "deadlineMs": 99,
                                       "shutdownReason": "spindown"}


def test_a_crash_fails_the_environment_but_an_exit_during_shutdown_does_not() -> None:
    state = _extensions("a")
    state.register("a", b"{}", None)
    state.exited("a", "exit status 3")
    assert state.failure == (ext.CRASH, "exit status 3")
    calm = _extensions("a")
    calm.register("a", b"{}", None)
    calm.shutdown(ext.SPINDOWN, 1)
    calm.exited("a", "exit status 0")
    assert calm.failure is None


def test_init_and_exit_errors_need_the_error_type_header() -> None:
    state = _extensions("a")
    a = state.register("a", b"{}", None).identifier
    assert _error_type(state.error_posted(a, None, exiting=False)) == ext.MISSING_HEADER
    assert _error_type(state.error_posted("nobody", "X", exiting=False)) == ext.UNKNOWN_IDENTIFIER
    assert _error_type(state.error_posted(None, "X", exiting=False)) == ext.MISSING_IDENTIFIER
    assert state.error_posted(a, "Extension.ConfigInvalid", exiting=False).status == 202
    assert state.failure is not None and state.failure[0] == ext.INIT_ERROR


def test_only_internal_extensions_get_the_shorter_shutdown() -> None:
    state = _extensions()
    state.register("inproc", b'{"events": ["INVOKE"]}', None)
    assert state.only_internal
    assert not _extensions("a").only_internal


def test_subscriptions_are_validated_with_lambdas_limits() -> None:
    body = {"schemaVersion": "2022-12-13", "types": ["platform", "function"],
            "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain:8080"}}
    parsed = parse_subscription("agent", "telemetry", json.dumps(body).encode())
    assert isinstance(parsed, Subscription)
    assert (parsed.max_items, parsed.max_bytes, parsed.timeout_ms) == (10000, 262144, 1000)
    for change in ({"types": ["nope"]}, {"schemaVersion": "2019-01-01"}, {"buffering": {"timeoutMs": 10}},
                   {"buffering": {"maxBytes": 10}}, {"destination": {"protocol": "TCP", "port": 9}}):
        refused = parse_subscription("agent", "telemetry", json.dumps({**body, **change}).encode())
        assert isinstance(refused, Reply) and refused.status == 400
        assert _error_type(refused) == "ValidationError"


def test_a_buffer_goes_when_full_or_its_timeout_after_the_first_event() -> None:
    subscription = Subscription("agent", "telemetry", "http://x", ("platform",), "2022-12-13", max_items=1000,
                                timeout_ms=100)
    buffer = TelemetryBuffer(subscription)
    assert buffer.due_at() is None
    assert not buffer.add(telemetry_events.start("r", "$LATEST"), now=10.0)
    assert buffer.due_at() == 10.1
    for _ in range(998):
        buffer.add(telemetry_events.start("r", "$LATEST"), now=10.05)
    assert buffer.add(telemetry_events.start("r", "$LATEST"), now=10.06)  # the 1000th
    assert len(buffer.take()) == 1000 and buffer.due_at() is None


def test_the_init_backlog_stops_at_init_end() -> None:
    backlog = Backlog()
    backlog.keep(telemetry_events.init_start("on-demand", "python3.12", "fn", "$LATEST", 128))
    assert len(backlog.events) == 1
    backlog.close()
    backlog.keep(telemetry_events.start("r", "$LATEST"))
    assert backlog.events == []


def test_platform_records_have_the_documented_fields() -> None:
    report = telemetry_events.report("r", "success", 12.3456, 128, 40, init_ms=100.0)
    assert report["type"] == "platform.report"
    assert report["record"]["metrics"] == {"durationMs": 12.346, "billedDurationMs": 113, "memorySizeMB": 128,
                                           "maxMemoryUsedMB": 40, "initDurationMs": 100.0}
    done = telemetry_events.runtime_done("r", "error", 5.0, 0, error_type="Runtime.Unknown")
    assert done["record"]["errorType"] == "Runtime.Unknown" and done["record"]["status"] == "error"
    init = telemetry_events.init_start("on-demand", "python3.12", "fn", "$LATEST", 128)["record"]
    assert init["initializationType"] == "on-demand" and init["phase"] == "init"


def test_extension_log_lines_as_lambda_prints_them() -> None:
    assert log_lines.extension("agent", "Ready", ["INVOKE", "SHUTDOWN"]) == (
        "EXTENSION\tName: agent\tState: Ready\tEvents: [INVOKE, SHUTDOWN]")
    assert log_lines.subscription("telemetry", "agent", ["platform", "function"]) == (
        "TELEMETRY\tName: agent\tState: Subscribed\tTypes: [Platform, Function]")
