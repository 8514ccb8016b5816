"""The libraries Python teams put on Lambda, under lamina and under awslambdaric 4.2.2, in AWS's emulator.

Same cases as ``test_differential.py`` (same answers, same log lines after masking), for functions that
use AWS Lambda Powertools, FastAPI behind Mangum, Sentry's AWS Lambda integration (reporting to a local
sink on 127.0.0.1, whose envelopes are compared too), threads that log, and deep recursion.
"""

from __future__ import annotations

import gzip
import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Dict, Iterator, List, Optional, Tuple

import pytest

from tests.runtime.test_differential import AWSLAMBDARIC, LAMINA, Invocation, _mask, _run

pytest.importorskip("aws_lambda_powertools")
pytest.importorskip("fastapi")
pytest.importorskip("mangum")
pytest.importorskip("sentry_sdk")

# Powertools' own timestamps ("2026-01-02 03:04:05,678+0000") and EMF's epoch milliseconds.
_POWERTOOLS_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}\+0000")
_EMF_TIMESTAMP = re.compile(r'"Timestamp": ?\d{13}')


def _mask_more(lines: List[str]) -> List[str]:
    return [_EMF_TIMESTAMP.sub('"Timestamp": <ms>', _POWERTOOLS_TIME.sub("<ts>", line)) for line in lines]


def _http_api_event(method: str, path: str, body: Optional[str] = None, query: str = "") -> bytes:
    return json.dumps({
        "version": "2.0", "routeKey": "$default", "rawPath": path, "rawQueryString": query,
        "headers": {"host": "example.com", "content-type": "application/json"},
        "requestContext": {"http": {"method": method, "path": path, "protocol": "HTTP/1.1",
                                    "sourceIp": "127.0.0.1", "userAgent": "test"},
                           "requestId": "r", "routeKey": "$default", "stage": "$default",
                           "accountId": "123456789012", "apiId": "api", "domainName": "example.com",
                           "domainPrefix": "example", "time": "01/Jan/2026:00:00:00 +0000",
                           "timeEpoch": 1767225600000},
        "body": body, "isBase64Encoded": False,
    }).encode()


def _rest_api_event(path: str) -> bytes:
    return json.dumps({
        "resource": "/{proxy+}", "path": path, "httpMethod": "GET", "headers": {"Host": "example.com"},
        "multiValueHeaders": {}, "queryStringParameters": None, "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": path[1:]}, "stageVariables": None, "body": None,
        "isBase64Encoded": False,
        "requestContext": {"resourcePath": "/{proxy+}", "httpMethod": "GET", "path": path,
                           "stage": "prod", "requestId": "r", "accountId": "123456789012"},
    }).encode()


def _sqs_event(*bodies: str) -> bytes:
    return json.dumps({"Records": [{
        "messageId": f"m{n}", "receiptHandle": "h", "body": body, "attributes": {},
        "messageAttributes": {}, "md5OfBody": "x", "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:q", "awsRegion": "us-east-1",
    } for n, body in enumerate(bodies)]}).encode()


TENANT = {"X-Amz-Tenant-Id": "tenant-7"}
JSON_LOGS = {"AWS_LAMBDA_LOG_FORMAT": "JSON"}

CASES: Dict[str, Tuple[str, List[Invocation], Optional[Dict[str, str]]]] = {
    "powertools_logger_metrics_event_handler": ("with_powertools.api", [
        (_rest_api_event("/orders/42"), {}), (_rest_api_event("/orders/43"), {}),
        (_rest_api_event("/nope"), {}), (_rest_api_event("/fail"), {}),
    ], {"POWERTOOLS_METRICS_NAMESPACE": "Lamina"}),
    "powertools_batch": ("with_powertools.batch", [(_sqs_event("a", "bad", "c"), {})], None),
    "powertools_at_debug": ("with_powertools.api", [(_rest_api_event("/orders/1"), {})],
                            {"AWS_LAMBDA_LOG_LEVEL": "DEBUG", "AWS_LAMBDA_LOG_FORMAT": "JSON"}),
    "mangum_fastapi": ("with_fastapi.handler", [
        (_http_api_event("GET", "/items/5", query="q=x"), {}),
        (_http_api_event("POST", "/items", body='{"name": "n"}'), {}),
        (_http_api_event("GET", "/missing"), {}),
        (_http_api_event("GET", "/items/notanint"), {}),
    ], None),
    "threads_log_the_request_id_in_text": ("threads.fan_out", [(b"{}", {}), (b"{}", TENANT)], None),
    "threads_log_the_request_id_in_json": ("threads.fan_out", [(b"{}", {}), (b"{}", TENANT)], JSON_LOGS),
    "recursion_error_reaches_the_same_depth": ("threads.recurse", [(b"{}", {})], None),
    "recursion_error_printed_by_the_handler": ("threads.recurse_printed", [(b"{}", {})], None),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_library_behaves_exactly_as_under_awslambdaric(emulator_factory, case: str) -> None:
    handler, invocations, env = CASES[case]
    theirs, their_logs = _run(emulator_factory, AWSLAMBDARIC, handler, invocations, env)
    ours, our_logs = _run(emulator_factory, LAMINA, handler, invocations, env)
    assert ours == theirs
    assert _mask_more(our_logs) == _mask_more(their_logs)


# -- Sentry ----------------------------------------------------------------------------------------

_VOLATILE = {"event_id", "timestamp", "start_timestamp", "span_id", "trace_id", "parent_span_id",
             "thread.id", "thread.name", "execution_duration_in_millis", "remaining_time_in_millis",
             "sys.argv", "sample_rand", "sent_at", "url"}


class SentrySink:
    """Sentry's ingestion endpoint on 127.0.0.1: records every envelope posted to it."""

    def __init__(self) -> None:
        self.envelopes: List[bytes] = []
        sink = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                sink.envelopes.append(body)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.dsn = f"http://public@127.0.0.1:{self._server.server_address[1]}/1"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(5)

    def items(self) -> List[Tuple[str, Any]]:
        """Every item of every envelope, as (type, payload without ids, times and paths)."""
        found = []
        for envelope in self.envelopes:
            lines = envelope.split(b"\n")[1:]  # the envelope's own header holds ids only
            for header, payload in zip(lines[::2], lines[1::2]):
                kind = json.loads(header)["type"]
                found.append((kind, _scrub(json.loads(_mask(payload.decode())))))
        return sorted(found, key=lambda item: (item[0], json.dumps(item[1], sort_keys=True)))


def _scrub(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _scrub(v) for k, v in value.items() if k not in _VOLATILE}
    if isinstance(value, list):
        return [_scrub(v) for v in value]
    return value


@pytest.fixture
def sentry_sink() -> Iterator[SentrySink]:
    sink = SentrySink()
    yield sink
    sink.close()


def _sentry_run(emulator_factory, sink: SentrySink, command: List[str],
                handler: str) -> Tuple[Tuple[List[Tuple[int, str]], List[str]], List[Tuple[str, Any]]]:
    sink.envelopes.clear()
    result = _run(emulator_factory, command, handler, [(b'{"a": 1}', {}), (b'{"a": 2}', {})],
                  {"SENTRY_DSN": sink.dsn})
    deadline = time.monotonic() + 5
    while len(sink.envelopes) < 2 and time.monotonic() < deadline:
        time.sleep(0.05)
    return result, sink.items()


@pytest.mark.parametrize("handler", ["with_sentry.fail", "with_sentry.ok", "with_sentry_init_error.h"])
def test_sentry_reports_as_under_awslambdaric(emulator_factory, sentry_sink: SentrySink,
                                              handler: str) -> None:
    theirs, their_items = _sentry_run(emulator_factory, sentry_sink, AWSLAMBDARIC, handler)
    ours, our_items = _sentry_run(emulator_factory, sentry_sink, LAMINA, handler)
    assert ours == theirs
    assert our_items == their_items
    assert our_items  # Sentry saw something: an event, or the invocations' transactions
    if handler == "with_sentry.fail":  # the unhandled error, with its Lambda context, and a transaction
        events = [payload for kind, payload in our_items if kind == "event"]
        assert [e["exception"]["values"][-1]["value"] for e in events] == ["sentry should see this"] * 2
        assert all(e["extra"]["lambda"]["function_name"] == "test_function" for e in events)
        assert all(e["exception"]["values"][-1]["mechanism"]["type"] == "aws_lambda" for e in events)
        assert [kind for kind, _ in our_items].count("transaction") == 2
