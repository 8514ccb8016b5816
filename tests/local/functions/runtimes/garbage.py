"""A custom runtime that misbehaves on the Runtime API before it answers.

For each invocation it posts to a wrong request id and to an unknown path, then answers with what the
Runtime API said to those, plus the answer to posting twice for the previous invocation. An event
``{"garbage": true}`` is answered with bytes that are not JSON.
"""

import json
import os
import urllib.error
import urllib.request

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01"


def post(path, body=b"{}"):
    request = urllib.request.Request(f"{api}{path}", data=body, method="POST")
    try:
        with urllib.request.urlopen(request) as response:
            return [response.status, response.read().decode()]
    except urllib.error.HTTPError as err:
        return [err.code, err.read().decode()]


previous = None
repeat = None
while True:
    with urllib.request.urlopen(f"{api}/runtime/invocation/next") as response:
        request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
        event = json.loads(response.read())
    if previous is not None:
        repeat = post(f"/runtime/invocation/{previous}/response")
    report = {
        "wrong_id": post("/runtime/invocation/not-a-request-id/response"),
        "unknown_path": post("/runtime/invocation/nothing-here"),
        "repeat_previous": repeat,
    }
    body = b"\x00not json{" if event.get("garbage") else json.dumps(report).encode()
    post(f"/runtime/invocation/{request_id}/response", body)
    previous = request_id
