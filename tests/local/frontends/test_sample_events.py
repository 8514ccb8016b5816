"""`lamina event`: sample events with AWS's documented shapes, and clear errors for bad options."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys

import pytest
from click.testing import CliRunner

from lamina.cli.event import event
from lamina.local.frontends.sample_events import to_attribute_value


def emit(*args: str) -> dict:  # type: ignore[type-arg]
    result = CliRunner().invoke(event, list(args))
    assert result.exit_code == 0, result.output
    return json.loads(result.output)  # type: ignore[no-any-return]


def test_api_gw_v2_event_is_the_http_fronts_event_for_those_options() -> None:
    doc = emit("api-gw-v2", "--method", "POST", "--path", "/items/7", "--route", "POST /items/{id}",
               "--query", "a=1&a=2", "--header", "X-A: 1", "--body", '{"n": 1}')
    assert doc["version"] == "2.0" and doc["routeKey"] == "POST /items/{id}"
    assert doc["pathParameters"] == {"id": "7"} and doc["queryStringParameters"] == {"a": "1,2"}
    assert doc["headers"]["x-a"] == "1" and doc["body"] == '{"n": 1}' and doc["isBase64Encoded"] is False
    context = doc["requestContext"]
    assert context["http"]["method"] == "POST" and context["stage"] == "$default"
    assert set(context) >= {"accountId", "apiId", "domainName", "domainPrefix", "requestId", "time",
                            "timeEpoch"}


def test_api_gw_v1_event_has_rest_api_fields() -> None:
    doc = emit("api-gw-v1", "--path", "/a/b")
    assert doc["resource"] == "/{proxy+}" and doc["httpMethod"] == "GET" and doc["path"] == "/a/b"
    assert doc["pathParameters"] == {"proxy": "a/b"} and doc["body"] is None
    assert "multiValueHeaders" in doc and "multiValueQueryStringParameters" in doc


def test_function_url_event_uses_the_url_domain() -> None:
    doc = emit("function-url", "--path", "/x")
    assert doc["routeKey"] == "$default"
    assert doc["requestContext"]["domainName"].endswith(".lambda-url.us-east-1.on.aws")


def test_sqs_event_has_records_with_body_checksum_and_queue_arn() -> None:
    doc = emit("sqs", "--body", "hi", "--queue", "orders", "--count", "2")
    assert len(doc["Records"]) == 2
    record = doc["Records"][0]
    assert record["body"] == "hi" and record["md5OfBody"] == hashlib.md5(b"hi").hexdigest()
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == "arn:aws:sqs:us-east-1:123456789012:orders"
    assert set(record["attributes"]) == {"ApproximateReceiveCount", "SentTimestamp", "SenderId",
                                         "ApproximateFirstReceiveTimestamp"}


def test_s3_event_url_encodes_the_key() -> None:
    (record,) = emit("s3", "--bucket", "b", "--key", "my photos/a b.jpg")["Records"]
    assert record["eventSource"] == "aws:s3" and record["eventName"] == "ObjectCreated:Put"
    assert record["s3"]["bucket"] == {"name": "b", "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                                      "arn": "arn:aws:s3:::b"}
    assert record["s3"]["object"]["key"] == "my+photos/a+b.jpg"


def test_sns_eventbridge_and_dynamodb_events_have_their_documented_keys() -> None:
    sns = emit("sns", "--message", "m")["Records"][0]
    assert sns["EventSource"] == "aws:sns" and sns["Sns"]["Message"] == "m"
    assert sns["Sns"]["Type"] == "Notification"
    bridge = emit("eventbridge", "--detail", '{"x": 1}')
    assert set(bridge) == {"version", "id", "detail-type", "source", "account", "time", "region", "resources",
                           "detail"}
    assert bridge["detail"] == {"x": 1}
    (ddb,) = emit("dynamodb", "--event-name", "REMOVE", "--keys", '{"pk": "a"}')["Records"]
    assert ddb["eventName"] == "REMOVE" and "NewImage" not in ddb["dynamodb"]
    assert ddb["dynamodb"]["Keys"] == {"pk": {"S": "a"}} and "OldImage" in ddb["dynamodb"]


def test_plain_values_become_dynamodb_attribute_values() -> None:
    assert to_attribute_value({"n": 1, "ok": True, "l": ["a", None]}) == {
        "M": {"n": {"N": "1"}, "ok": {"BOOL": True}, "l": {"L": [{"S": "a"}, {"NULL": True}]}}}


@pytest.mark.parametrize("args", [["eventbridge", "--detail", "{not json"],
                                  ["api-gw-v2", "--header", "novalue"],
                                  ["api-gw-v2", "--route", "GET /items", "--path", "/other"]])
def test_bad_options_are_usage_errors(args: list[str]) -> None:
    result = CliRunner().invoke(event, args)
    assert result.exit_code == 2 and "Error" in result.output


def test_lamina_event_command_prints_json_from_the_cli() -> None:
    out = subprocess.run([sys.executable, "-m", "lamina", "event", "sqs", "--body", "x"],
                         capture_output=True, text=True, timeout=30, check=True)
    assert json.loads(out.stdout)["Records"][0]["body"] == "x"


def test_sample_event_piped_into_lamina_invoke_reaches_the_handler(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "app.py").write_text(
        "def handler(event, context):\n    return event['Records'][0]['s3']['object']['key']\n")
    sample = subprocess.run([sys.executable, "-m", "lamina", "event", "s3", "--key", "in/a b.csv"],
                            capture_output=True, timeout=30, check=True)
    invoke = [sys.executable, "-m", "lamina", "invoke", "app.handler", "--code", str(tmp_path)]
    out = subprocess.run(invoke, input=sample.stdout, capture_output=True, timeout=60)
    assert out.returncode == 0, out.stderr.decode()
    assert json.loads(out.stdout) == "in/a+b.csv"
