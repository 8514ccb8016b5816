"""A custom runtime that probes the Runtime API's answers and reports them.

Invocation 1: post to an id before it exists, then an /error with an error cause (Lambda strips
``errorCause``), then a /response for the same id (refused: already answered).
Invocation 2: answers with every status and body seen, and the header names ``next`` carried.
"""

import json
import os
import urllib.error
import urllib.request

api = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def call(path, body=None, headers=None):
    request = urllib.request.Request(f"{api}{path}", data=body, headers=headers or {},
                                     method="GET" if body is None else "POST")
    try:
        with urllib.request.urlopen(request) as response:
            return response.status, response.read().decode(), dict(response.headers)
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode(), dict(err.headers)


seen = [call("/invocation/early-id/response", b"{}")[:2]]
_, _, headers = call("/invocation/next")
first = headers["Lambda-Runtime-Aws-Request-Id"]
cause = {"errorMessage": "probe", "errorType": "Function.Probe", "stackTrace": ["a"],
         "errorCause": {"paths": ["x"]}}
seen.append(call(f"/invocation/{first}/error", json.dumps(cause).encode(),
                 {"Content-Type": "application/vnd.aws.lambda.error.cause+json",
                  "Lambda-Runtime-Function-Error-Type": "Function.Probe"})[:2])
seen.append(call(f"/invocation/{first}/response", b"{}")[:2])
_, _, headers = call("/invocation/next")
second = headers["Lambda-Runtime-Aws-Request-Id"]
names = sorted(name.lower() for name in headers if name.lower().startswith("lambda-runtime-"))
report = {"seen": seen, "stale": call(f"/invocation/{first}/error", b"{}")[:2], "next_headers": names}
call(f"/invocation/{second}/response", json.dumps(report).encode())
while True:
    call("/invocation/next")
