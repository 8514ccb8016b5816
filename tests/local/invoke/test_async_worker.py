"""Durable Event invocations: the SQLite queue, the pollers, retries and destinations, with a fake invoker."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Callable, Optional

from lamina.local.invoke.event_policy import EventInvokeConfig
from lamina.local.invoke.event_queue import EventQueue
from lamina.local.invoke.event_worker import AsyncInvoker
from lamina.local.invoke.invoker import InvokeResult

FAST = (0.01, 0.02)


def run(coro: Awaitable[Any]) -> Any:
    return asyncio.run(asyncio.wait_for(coro, 30))  # type: ignore[arg-type]


async def until(predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not predicate():
        assert loop.time() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


class Recorder:
    """A fake function: records each call, fails the first ``failures`` calls."""

    def __init__(self, failures: int = 0) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []
        self.request_ids: list[str] = []
        self.failures = failures

    async def __call__(self, function_name: str, payload: bytes, request_id: str) -> InvokeResult:
        self.calls.append((function_name, json.loads(payload)))
        self.request_ids.append(request_id)
        if len(self.calls) <= self.failures:
            return "Unhandled", b'{"errorMessage":"boom","errorType":"Exception"}'
        return None, b'"ok"'


def run_one_event(tmp_path: Path, recorder: Recorder, until_state: str, payload: bytes = b"{}",
                  qualifier: Optional[str] = None, linger: float = 0.0, **options: Any) -> str:
    """Accept one event for function ``f``, poll until it is ``until_state``, stop; its request id.

    ``linger`` keeps the pollers running a little longer, for tests that check nothing runs twice.
    """

    async def scenario() -> str:
        invoker = AsyncInvoker(tmp_path / "q.sqlite3", recorder, retry_delays=FAST, **options)
        await invoker.start()
        request_id = invoker.enqueue("f", payload, qualifier)
        await until(lambda: invoker.queue.counts()[until_state] == 1)
        await asyncio.sleep(linger)
        await invoker.close()
        return request_id

    return str(run(scenario()))


def test_claimed_event_is_not_claimed_again_until_its_lease_ends(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3")
    queue.enqueue("r1", "f", b"{}", now=100.0)
    first = queue.claim("a", now=100.0, lease=10)
    assert first is not None and first.attempts == 1
    assert queue.claim("b", now=105.0, lease=10) is None
    again = queue.claim("b", now=111.0, lease=10)
    assert again is not None and again.attempts == 2
    assert not queue.complete(first, "a", now=112.0)  # a lost its lease: its result is not recorded
    assert queue.complete(again, "b", now=112.0)
    assert queue.claim("c", now=200.0, lease=10) is None
    assert queue.counts() == {"pending": 0, "done": 1, "failed": 0}
    queue.close()


def test_recover_releases_leases_of_a_dead_owner(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3")
    queue.enqueue("r1", "f", b"{}", now=0.0)
    assert queue.claim("dead", now=0.0, lease=3600) is not None
    queue.close()
    reopened = EventQueue(tmp_path / "q.sqlite3")
    assert reopened.recover()
    event = reopened.claim("alive", now=1.0, lease=10)
    assert event is not None and event.request_id == "r1"
    reopened.close()


def test_event_runs_once_and_the_request_id_is_returned_at_once(tmp_path: Path) -> None:
    recorder = Recorder()
    request_id = run_one_event(tmp_path, recorder, "done", b'{"n": 1}', linger=0.05)
    assert request_id and recorder.calls == [("f", {"n": 1})]


def test_failing_event_is_retried_twice_then_recorded_on_failure(tmp_path: Path) -> None:
    recorder = Recorder(failures=10)
    failures = tmp_path / "failures.jsonl"
    configs = {"f": EventInvokeConfig(on_failure=str(failures))}
    request_id = run_one_event(tmp_path, recorder, "failed", b'{"n": 2}', "$LATEST", configs=configs)
    assert len(recorder.calls) == 3
    assert recorder.request_ids == [request_id] * 3  # every retry keeps the accepted id
    (record,) = [json.loads(line) for line in failures.read_text().splitlines()]
    assert record["version"] == "1.0"
    assert record["requestContext"] == {
        "requestId": request_id, "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
        "condition": "RetriesExhausted", "approximateInvokeCount": 3}
    assert record["requestPayload"] == {"n": 2}
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST",
                                         "functionError": "Unhandled"}
    assert record["responsePayload"] == {"errorMessage": "boom", "errorType": "Exception"}


def test_event_that_succeeds_on_a_retry_is_not_recorded_as_failed(tmp_path: Path) -> None:
    recorder = Recorder(failures=1)
    successes = tmp_path / "ok"
    configs = {"f": EventInvokeConfig(on_failure=str(tmp_path / "bad.jsonl"), on_success=str(successes))}
    run_one_event(tmp_path, recorder, "done", configs=configs)
    assert len(recorder.calls) == 2 and not (tmp_path / "bad.jsonl").exists()
    (record_file,) = successes.iterdir()
    record = json.loads(record_file.read_text())
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 2 and record["responsePayload"] == "ok"


def test_maximum_retry_attempts_zero_runs_once(tmp_path: Path) -> None:
    recorder = Recorder(failures=10)
    run_one_event(tmp_path, recorder, "failed", configs={"f": EventInvokeConfig(maximum_retry_attempts=0)})
    assert len(recorder.calls) == 1


def test_event_older_than_maximum_age_is_dropped_unrun_with_event_age_exceeded(tmp_path: Path) -> None:
    recorder = Recorder()
    failures = tmp_path / "failures.jsonl"
    clock = [1000.0]

    async def scenario() -> None:
        configs = {"f": EventInvokeConfig(maximum_event_age_seconds=60, on_failure=str(failures))}
        invoker = AsyncInvoker(tmp_path / "q.sqlite3", recorder, configs=configs, retry_delays=FAST,
                               clock=lambda: clock[0])
        invoker.enqueue("f", b'{"late": true}')  # accepted while lamina is not polling
        clock[0] += 61
        await invoker.start()
        await until(lambda: invoker.queue.counts()["failed"] == 1)
        await invoker.close()

    run(scenario())
    assert recorder.calls == []
    record = json.loads(failures.read_text())
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == 0
    assert "responsePayload" not in record


def test_events_accepted_before_a_restart_run_after_it(tmp_path: Path) -> None:
    recorder = Recorder()

    async def scenario() -> Optional[int]:
        stopped = AsyncInvoker(tmp_path / "q.sqlite3", recorder)
        for n in range(5):
            stopped.enqueue("f", json.dumps({"n": n}).encode())
        stopped.queue.close()  # never started: like a crash right after the 202s
        invoker = AsyncInvoker(tmp_path / "q.sqlite3", recorder, retry_delays=FAST)
        await invoker.start()
        await until(lambda: invoker.queue.counts()["done"] == 5)
        await invoker.close()
        return None

    run(scenario())
    assert sorted(call[1]["n"] for call in recorder.calls) == [0, 1, 2, 3, 4]


def test_claims_can_be_limited_to_the_functions_a_server_runs(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3")
    queue.enqueue("r1", "theirs", b"{}", now=0.0)
    queue.enqueue("r2", "mine", b"{}", now=0.0)
    event = queue.claim("me", now=1.0, lease=10, functions=["mine"])
    assert event is not None and event.request_id == "r2"
    assert queue.claim("me", now=1.0, lease=10, functions=["mine"]) is None
    assert queue.claim("me", now=1.0, lease=10, functions=[]) is None
    queue.close()


def test_finished_events_are_pruned_and_pending_ones_kept(tmp_path: Path) -> None:
    queue = EventQueue(tmp_path / "q.sqlite3")
    queue.enqueue("old", "f", b"{}", now=0.0)
    queue.enqueue("pending", "f", b"{}", now=0.0)
    event = queue.claim("me", now=0.0, lease=10)
    assert event is not None and queue.complete(event, "me", now=1.0)
    assert queue.prune(finished_before=2.0) == 1
    assert queue.counts() == {"pending": 1, "done": 0, "failed": 0}
    queue.close()


def test_a_slow_functions_backlog_does_not_hold_other_functions_events(tmp_path: Path) -> None:
    calls: list[str] = []

    async def scenario() -> None:
        gate = asyncio.Event()

        async def invoke(function_name: str, payload: bytes, request_id: str) -> InvokeResult:
            calls.append(function_name)
            if function_name == "slow":
                await gate.wait()
            return None, b"null"

        invoker = AsyncInvoker(tmp_path / "q.sqlite3", invoke, retry_delays=FAST, concurrency=4,
                               functions=lambda: ["slow", "fast"], capacity=lambda name: 1)
        await invoker.start()
        for _ in range(5):
            invoker.enqueue("slow", b"{}")
        invoker.enqueue("fast", b"{}")
        await until(lambda: "fast" in calls)
        assert calls.count("slow") == 1  # one at a time for "slow": its capacity
        gate.set()
        await until(lambda: invoker.queue.counts()["done"] == 6)
        await invoker.close()

    run(scenario())
