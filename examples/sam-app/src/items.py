"""HTTP API (payload format 2.0) handler: GET and PUT /items/{id}."""

import json
import os

from greeting import greet  # from the CommonLayer layer (layer/python/greeting.py)


def handler(event, context):
    item_id = event["pathParameters"]["id"]
    method = event["requestContext"]["http"]["method"]
    if method == "PUT":
        item = json.loads(event.get("body") or "{}")
        return {"statusCode": 201, "headers": {"content-type": "application/json"},
                "body": json.dumps({"id": item_id, "saved": item})}
    # A dict without statusCode: the HTTP API answers 200 with it as JSON.
    return {"id": item_id, "message": greet(item_id), "stage": os.environ["STAGE"],
            "table": os.environ["TABLE_NAME"]}
