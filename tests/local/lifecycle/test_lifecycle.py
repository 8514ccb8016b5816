"""The execution environment's state machine and Lambda's error documents, without sockets."""

from __future__ import annotations

import json

from lamina.local.lifecycle.single import Lifecycle
from lamina.local.lifecycle.states import Deliver, Invocation, Kind, Reply, State, Wait
from lamina.local.model import function_errors, log_lines
from lamina.runtime import protocol


def _invocation(request_id: str = "req-1", timeout: float = 3.0) -> Invocation:
    return Invocation(request_id=request_id, payload=b"{}", timeout=timeout,
                      function_arn="arn:aws:lambda:us-east-1:123456789012:function:f")


def _ready(request_id: str = "req-1") -> Lifecycle:
    lifecycle = Lifecycle()
    assert isinstance(lifecycle.next_requested(), Wait)
    delivered = lifecycle.assign(_invocation(request_id))
    assert isinstance(delivered, Deliver)
    return lifecycle


def test_first_next_ends_init_and_waits_for_an_invocation() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.state is State.INIT
    assert isinstance(lifecycle.next_requested(), Wait)
    assert lifecycle.init_done and lifecycle.state is State.READY and lifecycle.polling


def test_invocation_assigned_during_init_is_delivered_on_first_next() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.assign(_invocation()) is None
    action = lifecycle.next_requested()
    assert isinstance(action, Deliver) and action.invocation.request_id == "req-1"
    assert lifecycle.state is State.INVOKING


def test_next_again_while_invoking_redelivers_the_same_invocation() -> None:
    lifecycle = _ready()
    again = lifecycle.next_requested()
    assert isinstance(again, Deliver) and again.invocation.request_id == "req-1"


def test_response_completes_invocation_and_second_post_is_refused_with_403() -> None:
    lifecycle = _ready()
    reply, outcome = lifecycle.response_posted("req-1", 2, b"42")
    assert reply.status == 202 and json.loads(reply.body) == {"status": "OK"}
    assert outcome is not None and outcome.kind is Kind.RESPONSE and outcome.body == b"42"
    reply, outcome = lifecycle.response_posted("req-1", 2, b"43")
    assert reply.status == 403 and outcome is None
    assert json.loads(reply.body) == {
        "errorMessage": "State transition from RuntimeResponseSentState to InvocationResponse failed "
                        "for runtime. Error: State transition is not allowed",
        "errorType": "InvalidStateTransition"}


def test_unknown_request_id_is_refused_with_400_invalid_request_id() -> None:
    lifecycle = _ready()
    reply, outcome = lifecycle.response_posted("someone-else", 2, b"{}")
    assert reply == Reply.error(400, "InvalidRequestID", "Invalid request ID") and outcome is None
    assert lifecycle.current is not None  # the real invocation is still open


def test_response_before_any_next_is_an_invalid_request_id() -> None:
    reply, _ = Lifecycle().response_posted("req-1", 2, b"{}")
    assert reply.status == 400


def test_response_over_limit_is_413_and_ends_invocation_with_response_size_too_large() -> None:
    lifecycle = _ready()
    reply, outcome = lifecycle.response_posted("req-1", protocol.MAX_SYNC_RESPONSE + 1, b"")
    assert reply.status == 413
    assert json.loads(reply.body)["errorType"] == "RequestEntityTooLarge"
    assert outcome is not None and outcome.kind is Kind.RESPONSE_TOO_LARGE
    assert json.loads(outcome.body)["errorType"] == "Function.ResponseSizeTooLarge"
    assert lifecycle.response_posted("req-1", 2, b"{}")[0].status == 403


def test_response_at_exactly_the_limit_is_accepted() -> None:
    lifecycle = _ready()
    reply, outcome = lifecycle.response_posted("req-1", protocol.MAX_SYNC_RESPONSE, b"x")
    assert reply.status == 202 and outcome is not None and outcome.kind is Kind.RESPONSE


def test_error_post_strips_error_cause_and_keeps_the_error_type() -> None:
    lifecycle = _ready()
    body = json.dumps({"errorMessage": "m", "errorType": "ValueError", "stackTrace": [],
                       "errorCause": {"paths": []}}).encode()
    reply, outcome = lifecycle.error_posted("req-1", body, protocol.CONTENT_TYPE_ERROR_CAUSE, None)
    assert reply.status == 202 and outcome is not None and outcome.kind is Kind.ERROR
    assert json.loads(outcome.body) == {"errorMessage": "m", "errorType": "ValueError", "stackTrace": []}
    assert outcome.error_type == "Runtime.Unknown"  # not (Runtime|Function).Name: Lambda's catch-all


def test_init_error_answers_the_waiting_invocation_and_refuses_next_with_403() -> None:
    lifecycle = Lifecycle()
    lifecycle.assign(_invocation())
    reply, outcome = lifecycle.init_error_posted(b'{"errorType":"Runtime.ImportModuleError"}', None, None)
    assert reply.status == 202 and outcome is not None and outcome.kind is Kind.INIT_ERROR
    refused = lifecycle.next_requested()
    assert isinstance(refused, Reply) and refused.status == 403
    assert b"State transition from InitError to Ready failed" in refused.body
    second, _ = lifecycle.init_error_posted(b"{}", None, None)
    assert second.status == 403 and b"from InitError to InitError" in second.body


def test_exit_during_invocation_reports_runtime_exit_error_with_status_or_signal() -> None:
    lifecycle = _ready()
    outcome = lifecycle.process_exited(3)
    assert outcome is not None and outcome.kind is Kind.EXIT
    assert json.loads(outcome.body) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: req-1 Error: Runtime exited with error: exit status 3"}
    assert lifecycle.state is State.DEAD and not lifecycle.available
    killed = _ready("req-2").process_exited(-9)
    assert killed is not None
    assert json.loads(killed.body)["errorMessage"].endswith("Runtime exited with error: signal: killed")


def test_exit_while_idle_fails_nothing_but_makes_environment_unavailable() -> None:
    lifecycle = Lifecycle()
    lifecycle.next_requested()
    assert lifecycle.process_exited(0) is None
    assert not lifecycle.available


def test_timeout_reports_sandbox_timedout_with_lambdas_message() -> None:
    outcome = _ready().timed_out()
    assert outcome is not None and outcome.kind is Kind.TIMEOUT
    assert outcome.body == (b'{"errorType":"Sandbox.Timedout","errorMessage":"RequestId: req-1 Error: '
                            b'Task timed out after 3.00 seconds"}')


def test_memory_exceeded_then_exit_reports_out_of_memory() -> None:
    lifecycle = _ready()
    lifecycle.memory_exceeded()
    outcome = lifecycle.process_exited(-9)
    assert outcome is not None and outcome.kind is Kind.OUT_OF_MEMORY
    assert json.loads(outcome.body)["errorType"] == "Runtime.OutOfMemory"


def test_next_headers_carry_every_invocation_field() -> None:
    invocation = Invocation(request_id="r", payload=b"", function_arn="arn", timeout=1.0,
                            client_context='{"custom":{}}', cognito_identity="{}", tenant_id="t",
                            trace_id="Root=1-2-3")
    headers = invocation.next_headers(1234)
    assert headers[protocol.HEADER_DEADLINE_MS] == "1234"
    assert headers[protocol.HEADER_CLIENT_CONTEXT] == '{"custom":{}}'
    assert headers[protocol.HEADER_TENANT_ID] == "t" and headers[protocol.HEADER_TRACE_ID] == "Root=1-2-3"
    assert protocol.HEADER_COGNITO_IDENTITY in headers


def test_report_line_puts_init_duration_last_and_failure_status_after() -> None:
    line = log_lines.report(log_lines.Report("r", 2.24, 128, 39, 116.67))
    assert line == ("REPORT RequestId: r\tDuration: 2.24 ms\tBilled Duration: 119 ms\tMemory Size: 128 MB\t"
                    "Max Memory Used: 39 MB\tInit Duration: 116.67 ms\t")
    failed = log_lines.report(log_lines.Report("r", 3000.0, 128, 40, None, "error", "Runtime.ExitError"))
    assert failed.endswith("Status: error\tError Type: Runtime.ExitError\t")


def test_init_report_line_names_phase_status_and_error_type() -> None:
    assert log_lines.init_report(523.1, "error", "Runtime.ExitError") == (
        "INIT_REPORT Init Duration: 523.10 ms\tPhase: init\tStatus: error\tError Type: Runtime.ExitError")
    assert log_lines.init_report(10000.0, "timeout").endswith("Phase: init\tStatus: timeout")


def test_exit_descriptions_use_gos_wording() -> None:
    assert function_errors.exit_description(1) == "exit status 1"
    assert function_errors.exit_description(-9) == "signal: killed"
    assert function_errors.exit_description(-11) == "signal: segmentation fault"
    assert function_errors.exited_message(0) == "Runtime exited without providing a reason"


def test_a_second_concurrent_next_is_refused_and_the_first_poll_keeps_its_place() -> None:
    lifecycle = Lifecycle()
    assert isinstance(lifecycle.next_requested(), Wait)
    second = lifecycle.next_requested()
    assert isinstance(second, Reply) and second.status == 403
    assert json.loads(second.body)["errorType"] == "InvalidStateTransition"
    delivered = lifecycle.assign(_invocation("req-9"))
    assert isinstance(delivered, Deliver) and delivered.invocation.request_id == "req-9"
