"""Multi-concurrency (``AWS_LAMBDA_MAX_CONCURRENCY``): many invocations at once, no cross-talk."""

from __future__ import annotations

import json

from tests.runtime.runtime_process import start

LMI_ENV = {"AWS_LAMBDA_MAX_CONCURRENCY": "8", "AWS_LAMBDA_LOG_FORMAT": "JSON",
           "AWS_LAMBDA_LOG_LEVEL": "DEBUG"}


def _enqueue_many(api, count: int) -> list:  # type: ignore[no-untyped-def]
    return [api.enqueue(b"{}", headers={"Lambda-Runtime-Trace-Id": f"Root=trace-{n}"},
                        request_id=f"req-{n:03d}") for n in range(count)]


def _responses_by_request(posts) -> dict:  # type: ignore[no-untyped-def]
    return {post.path.split("/")[-2]: json.loads(post.body) for post in posts}


def _each_with_its_own_ids(api, ids: list) -> dict:  # type: ignore[no-untyped-def]
    """Every invocation's response, each checked to carry its own request id and trace id."""
    responses = _responses_by_request(api.wait_posts(len(ids), timeout=30))
    assert sorted(responses) == ids
    for request_id, body in responses.items():
        assert body["request_id"] == request_id
        assert body["trace"] == f"Root=trace-{int(request_id[4:])}"
    return responses


def _log_records(stdout: str) -> list:
    return [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]


def test_async_handler_runs_100_invocations_concurrently_each_with_its_own_context(api, runtimes) -> None:
    ids = _enqueue_many(api, 100)
    runtime = start(runtimes, api, "multi.async_handler", env=LMI_ENV)
    responses = _each_with_its_own_ids(api, ids)
    assert max(body["max_in_flight"] for body in responses.values()) > 1
    assert len({body["pid"] for body in responses.values()}) == 1  # one process, one event loop
    records = _log_records(runtime.stop())
    pool = [r for r in records if isinstance(r["message"], dict) and r["message"].get("event")]
    assert pool[0]["message"] == {"event": "runtime_worker_pool_initializing", "workerCount": 8,
                                  "executionEnvironmentMaxConcurrency": 8}
    handler_logs = [r for r in records if r.get("logger") == "multi"]
    assert len(handler_logs) == 100
    for record in handler_logs:
        assert json.loads(record["message"])["context_request_id"] == record["requestId"]


def test_sync_handler_runs_in_forked_workers_each_with_its_own_context(api, runtimes) -> None:
    ids = _enqueue_many(api, 100)
    runtime = start(runtimes, api, "multi.sync_handler", env=LMI_ENV)
    responses = _each_with_its_own_ids(api, ids)
    assert len({body["pid"] for body in responses.values()}) > 1
    handler_logs = [r for r in _log_records(runtime.stop()) if r.get("logger") == "multi"]
    assert len(handler_logs) == 100
    assert all(record["message"] == f"sync {record['requestId']}" for record in handler_logs)


def test_async_streaming_handler_streams_concurrent_invocations_without_cross_talk(api, runtimes) -> None:
    ids = _enqueue_many(api, 40)
    runtime = start(runtimes, api, "multi.async_stream", env=LMI_ENV)
    posts = api.wait_posts(40, timeout=30)
    for post in posts:
        request_id = post.path.split("/")[-2]
        assert post.headers["lambda-runtime-function-response-mode"] == "streaming"
        assert post.body == f"{request_id}:0;{request_id}:1;{request_id}:2;".encode()
    assert sorted(p.path.split("/")[-2] for p in posts) == ids
    handler_logs = [r for r in _log_records(runtime.stop()) if r.get("logger") == "multi"]
    assert len(handler_logs) == 120
    for record in handler_logs:
        assert json.loads(record["message"])["context_request_id"] == record["requestId"]
