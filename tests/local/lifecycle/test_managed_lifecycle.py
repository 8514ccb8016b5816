"""The managed-instances lifecycle without sockets: N invocations held, matched by request id."""

from __future__ import annotations

from lamina.local.lifecycle.managed import ManagedLifecycle
from lamina.local.lifecycle.states import Invocation, Kind, State


def _invocation(n: int) -> Invocation:
    return Invocation(request_id=f"req-{n}", payload=b"{}", function_arn="arn", timeout=3.0)


def test_holds_up_to_capacity_and_hands_invocations_to_pollers_in_order() -> None:
    lifecycle = ManagedLifecycle(capacity=2)
    lifecycle.assign(_invocation(1))
    lifecycle.assign(_invocation(2))
    assert not lifecycle.available
    assert lifecycle.take() is None  # the runtime has not asked yet: still initialising
    assert lifecycle.next_requested() is None
    assert lifecycle.state is State.READY and lifecycle.init_done
    assert [lifecycle.take().request_id, lifecycle.take().request_id] == ["req-1", "req-2"]  # type: ignore[union-attr]
    assert lifecycle.take() is None


def test_responses_are_matched_by_request_id_and_a_second_one_is_refused() -> None:
    lifecycle = ManagedLifecycle(capacity=2)
    lifecycle.next_requested()
    for n in (1, 2):
        lifecycle.assign(_invocation(n))
        lifecycle.take()
    reply, outcome = lifecycle.response_posted("req-2", 2, b"ok")
    assert reply.status == 202 and outcome is not None and outcome.request_id == "req-2"
    assert lifecycle.response_posted("req-2", 2, b"again")[0].status == 403
    assert lifecycle.response_posted("req-9", 2, b"?")[0].status == 400
    assert list(lifecycle.running) == ["req-1"] and lifecycle.available


def test_a_timeout_fails_only_its_own_invocation() -> None:
    lifecycle = ManagedLifecycle(capacity=2)
    lifecycle.next_requested()
    for n in (1, 2):
        lifecycle.assign(_invocation(n))
        lifecycle.take()
    outcome = lifecycle.timed_out("req-1")
    assert outcome is not None and outcome.kind is Kind.TIMEOUT
    assert lifecycle.state is State.READY and list(lifecycle.running) == ["req-2"]


def test_a_crash_fails_every_held_invocation() -> None:
    lifecycle = ManagedLifecycle(capacity=3)
    lifecycle.next_requested()
    for n in (1, 2, 3):
        lifecycle.assign(_invocation(n))
    lifecycle.take()
    outcomes = lifecycle.process_exited(1)
    assert sorted(o.request_id for o in outcomes) == ["req-1", "req-2", "req-3"]
    assert {o.kind for o in outcomes} == {Kind.EXIT}
    assert lifecycle.state is State.DEAD and not lifecycle.available


def test_an_init_error_fails_the_waiting_invocations_and_refuses_next() -> None:
    lifecycle = ManagedLifecycle(capacity=2)
    lifecycle.assign(_invocation(1))
    reply, outcomes = lifecycle.init_error_posted(b'{"errorType":"Runtime.ImportModuleError"}', None,
                                                  "Runtime.ImportModuleError")
    assert reply.status == 202
    assert [(o.request_id, o.kind) for o in outcomes] == [("req-1", Kind.INIT_ERROR)]
    refused = lifecycle.next_requested()
    assert refused is not None and refused.status == 403
