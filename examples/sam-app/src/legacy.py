"""REST API (payload format 1.0) handler: answers every /legacy/... path."""

import json


def handler(event, context):
    return {
        "statusCode": 200,
        "multiValueHeaders": {"x-legacy": ["yes"]},
        "headers": {"content-type": "application/json"},
        "body": json.dumps({"resource": event["resource"], "proxy": event["pathParameters"]["proxy"],
                            "method": event["httpMethod"]}),
        "isBase64Encoded": False,
    }
