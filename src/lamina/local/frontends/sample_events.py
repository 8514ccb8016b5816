"""Realistic sample events, shaped as AWS documents them, to feed ``lamina invoke`` (``lamina event``).

HTTP events reuse the HTTP front's own builders, so a sample is exactly what ``lamina serve --http``
would send. The others (SQS, S3, SNS, EventBridge, DynamoDB Streams) follow AWS's documented examples
field for field; ids and times are fresh for each call, the rest comes from the options.
"""

from __future__ import annotations

import base64
import hashlib
import os
import time
import uuid
from collections.abc import Mapping, Sequence
from decimal import Decimal
from typing import Any, Dict, Optional, Tuple
from urllib.parse import quote_plus

from lamina.local.frontends.http_events import (
    EventContext,
    HttpRequest,
    build_event,
    build_function_url_event,
)
from lamina.local.frontends.routes import DEFAULT_ROUTE_KEY, RouteTable, parse_route
from lamina.local.model.names import DEFAULT_ACCOUNT, DEFAULT_REGION

__all__ = ["EVENT_SOURCES", "api_gateway_event", "dynamodb_event", "eventbridge_event", "function_url_event",
           "s3_event", "sns_event", "sqs_event", "to_attribute_value"]



def _iso(epoch: float, millis: bool = True) -> str:
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(epoch))
    return f"{base}.{int(epoch * 1000) % 1000:03d}Z" if millis else f"{base}Z"


def _http_request(method: str, path: str, query: str, headers: Sequence[Tuple[str, str]],
                  body: Optional[str], host: str) -> HttpRequest:
    all_headers = [("host", host), ("user-agent", "curl/8.5.0"), ("accept", "*/*"),
                   ("x-forwarded-for", "192.0.2.1"), ("x-forwarded-port", "443"),
                   ("x-forwarded-proto", "https")]
    if body is not None:
        all_headers.append(("content-type", "application/json"))
    all_headers.extend(headers)
    return HttpRequest(method=method.upper(), raw_path=path, raw_query_string=query, headers=all_headers,
                       body=(body or "").encode(), source_ip="192.0.2.1")


def api_gateway_event(*, payload_format: str = "2.0", method: str = "GET", path: str = "/",
                      route: Optional[str] = None, query: str = "", headers: Sequence[Tuple[str, str]] = (),
                      body: Optional[str] = None, region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """An API Gateway proxy event: HTTP API payload 2.0, or REST API payload 1.0."""
    api_id = "r3pmxmplak"
    host = f"{api_id}.execute-api.{region}.amazonaws.com"
    request = _http_request(method, path, query, headers, body, host)
    key = route or (DEFAULT_ROUTE_KEY if payload_format == "2.0" else "ANY /{proxy+}")
    match = RouteTable([parse_route(key, "function", payload_format)]).match(request.method, path)
    if match is None:
        raise ValueError(f"the path {path!r} does not match the route {key!r}")
    context = EventContext(_api_request_id(), int(time.time() * 1000), api_id=api_id)
    return build_event(request, match, context)


def function_url_event(*, method: str = "GET", path: str = "/", query: str = "",
                       headers: Sequence[Tuple[str, str]] = (), body: Optional[str] = None,
                       region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """A Lambda function URL event (payload 2.0 with ``$default``)."""
    url_id = "a1b2c3d4e5f6g7h8i9j0k1l2m3n4o5p6"
    request = _http_request(method, path, query, headers, body, f"{url_id}.lambda-url.{region}.on.aws")
    match = RouteTable([parse_route(DEFAULT_ROUTE_KEY, "function")]).match(request.method, path)
    assert match is not None  # $default matches every path
    context = EventContext(str(uuid.uuid4()), int(time.time() * 1000), api_id=url_id)
    return build_function_url_event(request, match, context)


def _api_request_id() -> str:
    return base64.b64encode(os.urandom(10)).decode()


def sqs_event(*, body: str = "Hello from SQS!", queue: str = "my-queue", region: str = DEFAULT_REGION,
              count: int = 1) -> Dict[str, Any]:
    """An SQS batch, as the event source mapping delivers it."""
    now_ms = int(time.time() * 1000)
    records = []
    for _ in range(count):
        records.append({
            "messageId": str(uuid.uuid4()),
            "receiptHandle": "AQEB" + base64.b64encode(os.urandom(96)).decode(),
            "body": body,
            "attributes": {
                "ApproximateReceiveCount": "1",
                "SentTimestamp": str(now_ms),
                "SenderId": "AIDAIENQZJOLO23YVJ4VO",
                "ApproximateFirstReceiveTimestamp": str(now_ms + 2),
            },
            "messageAttributes": {},
            "md5OfBody": hashlib.md5(body.encode()).hexdigest(),
            "eventSource": "aws:sqs",
            "eventSourceARN": f"arn:aws:sqs:{region}:{DEFAULT_ACCOUNT}:{queue}",
            "awsRegion": region,
        })
    return {"Records": records}


def s3_event(*, bucket: str = "amzn-s3-demo-bucket", key: str = "test/key",
             event_name: str = "ObjectCreated:Put", size: int = 1024,
             region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """An S3 event notification; the key is URL-encoded as S3 sends it."""
    etag = hashlib.md5(key.encode()).hexdigest()
    return {"Records": [{
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": region,
        "eventTime": _iso(time.time()),
        "eventName": event_name,
        "userIdentity": {"principalId": "AWS:AIDAINPONIXQXHT3IKHL2"},
        "requestParameters": {"sourceIPAddress": "192.0.2.1"},
        "responseElements": {"x-amz-request-id": os.urandom(8).hex().upper(),
                             "x-amz-id-2": base64.b64encode(os.urandom(48)).decode()},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": str(uuid.uuid4()),
            "bucket": {"name": bucket, "ownerIdentity": {"principalId": "A3I5XTEXAMAI3E"},
                       "arn": f"arn:aws:s3:::{bucket}"},
            "object": {"key": quote_plus(key, safe="/"), "size": size, "eTag": etag,
                       "sequencer": os.urandom(9).hex().upper()},
        },
    }]}


def sns_event(*, message: str = "Hello from SNS!", topic: str = "sns-lambda",
              subject: Optional[str] = "TestInvoke", region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """An SNS notification delivered to a Lambda subscription."""
    topic_arn = f"arn:aws:sns:{region}:{DEFAULT_ACCOUNT}:{topic}"
    subscription = f"{topic_arn}:{uuid.uuid4()}"
    return {"Records": [{
        "EventVersion": "1.0",
        "EventSubscriptionArn": subscription,
        "EventSource": "aws:sns",
        "Sns": {
            "SignatureVersion": "1",
            "Timestamp": _iso(time.time()),
            "Signature": base64.b64encode(os.urandom(256)).decode(),
            "SigningCertUrl": f"https://sns.{region}.amazonaws.com/SimpleNotificationService-"
                              f"{os.urandom(16).hex()}.pem",
            "MessageId": str(uuid.uuid4()),
            "Message": message,
            "MessageAttributes": {"Test": {"Type": "String", "Value": "TestString"}},
            "Type": "Notification",
            "UnsubscribeUrl": f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe"
                              f"&SubscriptionArn={subscription}",
            "TopicArn": topic_arn,
            "Subject": subject,
        },
    }]}


def eventbridge_event(*, source: str = "com.example.orders", detail_type: str = "Order Placed",
                      detail: Optional[Mapping[str, Any]] = None, resources: Sequence[str] = (),
                      region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """An EventBridge event as a rule target receives it."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": detail_type,
        "source": source,
        "account": DEFAULT_ACCOUNT,
        "time": _iso(time.time(), millis=False),
        "region": region,
        "resources": list(resources),
        "detail": dict(detail) if detail is not None else {"orderId": "1234", "amount": 42},
    }


def to_attribute_value(value: Any) -> Dict[str, Any]:
    """A plain JSON value as a DynamoDB attribute value (``{"S": …}``, ``{"N": …}``, ``{"M": …}``…)."""
    if value is None:
        return {"NULL": True}
    if isinstance(value, bool):
        return {"BOOL": value}
    if isinstance(value, (int, float, Decimal)):
        return {"N": str(value)}
    if isinstance(value, str):
        return {"S": value}
    if isinstance(value, list):
        return {"L": [to_attribute_value(v) for v in value]}
    if isinstance(value, dict):
        return {"M": {str(k): to_attribute_value(v) for k, v in value.items()}}
    raise ValueError(f"cannot store {type(value).__name__} in DynamoDB")


def dynamodb_event(*, table: str = "ExampleTable", event_name: str = "INSERT",
                   keys: Optional[Mapping[str, Any]] = None, new_image: Optional[Mapping[str, Any]] = None,
                   old_image: Optional[Mapping[str, Any]] = None,
                   region: str = DEFAULT_REGION) -> Dict[str, Any]:
    """A DynamoDB Streams record batch (view type NEW_AND_OLD_IMAGES)."""
    if event_name not in ("INSERT", "MODIFY", "REMOVE"):
        raise ValueError("event name must be INSERT, MODIFY or REMOVE")
    keys = dict(keys) if keys is not None else {"Id": 101}
    new_image = dict(new_image) if new_image is not None else {**keys, "Message": "New item!"}
    record: Dict[str, Any] = {
        "ApproximateCreationDateTime": int(time.time()),
        "Keys": {k: to_attribute_value(v) for k, v in keys.items()},
        "SequenceNumber": str(int(time.time() * 1000) * 1000),
        "SizeBytes": 26,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    if event_name != "REMOVE":
        record["NewImage"] = {k: to_attribute_value(v) for k, v in new_image.items()}
    if event_name != "INSERT":
        old = dict(old_image) if old_image is not None else {**keys, "Message": "Old item"}
        record["OldImage"] = {k: to_attribute_value(v) for k, v in old.items()}
    stream_time = time.strftime("%Y-%m-%dT%H:%M:%S.000", time.gmtime())
    return {"Records": [{
        "eventID": uuid.uuid4().hex,
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": record,
        "eventSourceARN": f"arn:aws:dynamodb:{region}:{DEFAULT_ACCOUNT}:table/{table}/stream/{stream_time}",
    }]}


EVENT_SOURCES = ("api-gw-v2", "api-gw-v1", "function-url", "sqs", "s3", "sns", "eventbridge", "dynamodb")
