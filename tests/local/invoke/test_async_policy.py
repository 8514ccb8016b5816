"""Lambda's async retry policy and destination records, as pure functions."""

from __future__ import annotations

import json

import pytest

from lamina.local.invoke.destinations import destination_record, write_record
from lamina.local.invoke.event_policy import (
    EVENT_AGE_EXCEEDED,
    RETRIES_EXHAUSTED,
    EventInvokeConfig,
    InvalidEventInvokeConfigError,
    Retry,
    after_failure,
)


def test_two_retries_with_one_then_two_minute_backoff_by_default() -> None:
    config = EventInvokeConfig()
    assert after_failure(config, 1, enqueued_at=0, now=10) == Retry(70)
    assert after_failure(config, 2, enqueued_at=0, now=80) == Retry(200)
    assert after_failure(config, 3, enqueued_at=0, now=210) == RETRIES_EXHAUSTED


def test_maximum_retry_attempts_zero_gives_up_after_the_first_attempt() -> None:
    assert after_failure(EventInvokeConfig(maximum_retry_attempts=0), 1, 0, 1) == RETRIES_EXHAUSTED


def test_retry_past_the_maximum_event_age_is_event_age_exceeded() -> None:
    config = EventInvokeConfig(maximum_event_age_seconds=60)
    assert after_failure(config, 1, enqueued_at=0, now=30, delays=(40, 40)) == EVENT_AGE_EXCEEDED
    assert after_failure(config, 1, enqueued_at=0, now=10, delays=(40, 40)) == Retry(50)


@pytest.mark.parametrize("values", [{"maximum_retry_attempts": 3}, {"maximum_retry_attempts": -1},
                                    {"maximum_event_age_seconds": 59}, {"maximum_event_age_seconds": 21601}])
def test_out_of_range_settings_are_refused_as_lambda_refuses_them(values: dict[str, int]) -> None:
    with pytest.raises(InvalidEventInvokeConfigError, match="1 validation error detected"):
        EventInvokeConfig(**values)  # type: ignore[arg-type]


def test_project_keys_are_read() -> None:
    config = EventInvokeConfig.from_project({"maximum_retry_attempts": 1, "maximum_event_age": 120,
                                             "on_failure": "failed.jsonl"})
    assert config == EventInvokeConfig(1, 120, "failed.jsonl")


def test_failure_record_has_lambdas_shape() -> None:
    record = destination_record(
        request_id="r-1", function_arn="arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
        condition=RETRIES_EXHAUSTED, invoke_count=3, request_payload=b'{"a": 1}',
        response_payload=b'{"errorMessage":"x","errorType":"E"}', function_error="Unhandled", now=0.5)
    assert record == {
        "version": "1.0",
        "timestamp": "1970-01-01T00:00:00.500Z",
        "requestContext": {"requestId": "r-1",
                           "functionArn": "arn:aws:lambda:us-east-1:123456789012:function:f:$LATEST",
                           "condition": "RetriesExhausted", "approximateInvokeCount": 3},
        "requestPayload": {"a": 1},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": {"errorMessage": "x", "errorType": "E"},
    }


def test_records_go_to_a_jsonl_file_or_a_directory(tmp_path) -> None:  # type: ignore[no-untyped-def]
    record = destination_record(request_id="r-2", function_arn="arn", condition=EVENT_AGE_EXCEEDED,
                                invoke_count=0, request_payload=b"{}", response_payload=None,
                                function_error=None)
    assert "responseContext" not in record
    write_record(str(tmp_path / "out.jsonl"), record)
    write_record(str(tmp_path / "out.jsonl"), record)
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert [json.loads(line) for line in lines] == [record, record]
    target = write_record(str(tmp_path / "records") + "/", record)
    assert json.loads(target.read_text()) == record and target.parent == tmp_path / "records"
