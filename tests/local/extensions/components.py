"""Extensions as users write them, in layers: a Python external extension, a shell-script one, an
HTTP server on localhost the function calls (the Parameters-and-Secrets pattern), a Telemetry API
subscriber; and the function that uses them. Each extension writes what it saw to ``$EXT_OUT``."""

from __future__ import annotations

import io
import os
import zipfile
from pathlib import Path

# A Python external extension: INVOKE and SHUTDOWN; after each INVOKE it works EXT_DELAY seconds.
RECORDER = r'''#!/usr/bin/env python3
import json, os, sys, time, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
name = os.path.basename(sys.argv[0])
out = os.environ["EXT_OUT"]
def note(*words):
    with open(out, "a") as f:
        f.write(" ".join([name, *map(str, words)]) + "\n")
req = urllib.request.Request(api + "/register", method="POST",
                             data=json.dumps({"events": ["INVOKE", "SHUTDOWN"]}).encode(),
                             headers={"Lambda-Extension-Name": name,
                                      "Lambda-Extension-Accept-Feature": "accountId"})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
    note("registered", r.read().decode())
seen = ("_HANDLER", "LAMBDA_TASK_ROOT", "AWS_LAMBDA_FUNCTION_NAME", "EXT_OUT", "AWS_EXECUTION_ENV")
note("env", json.dumps(sorted(k for k in os.environ if k in seen)))
print(f"[{name}] started", flush=True)
while True:
    req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ident})
    with urllib.request.urlopen(req) as r:
        event = json.loads(r.read())
    if event["eventType"] == "SHUTDOWN":
        note("SHUTDOWN", event["shutdownReason"], event["deadlineMs"] > 0)
        sys.exit(0)
    note("INVOKE", event["requestId"], event["invokedFunctionArn"], event["deadlineMs"] > 0)
    time.sleep(float(os.environ.get("EXT_DELAY", "0")))
    note("done", event["requestId"])
    print(f"[{name}] done {event['requestId']}", flush=True)
'''

# A shell-script extension, as AWS's examples write them (curl against the Extensions API).
SHELL = r'''#!/bin/sh
set -eu
API="http://${AWS_LAMBDA_RUNTIME_API}/2020-01-01/extension"
NAME=$(basename "$0")
HEADERS=$(mktemp)
curl -sS -D "$HEADERS" -o /dev/null -X POST "$API/register" -H "Lambda-Extension-Name: $NAME" \
  -d '{"events":["INVOKE"]}'
ID=$(grep -i '^Lambda-Extension-Identifier' "$HEADERS" | tr -d '\r' | cut -d' ' -f2)
while true; do
  EVENT=$(curl -sS "$API/event/next" -H "Lambda-Extension-Identifier: $ID")
  echo "$NAME $EVENT" >> "$EXT_OUT"
done
'''

# The Parameters-and-Secrets pattern: an HTTP server on localhost that the function calls.
SECRETS = r'''#!/usr/bin/env python3
import http.server, json, os, sys, threading, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = json.dumps({"SecretString": "s3cr3t", "path": self.path}).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ["SECRETS_PORT"])), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
req = urllib.request.Request(api + "/register", method="POST", data=b'{"events": ["SHUTDOWN"]}',
                             headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ident})
urllib.request.urlopen(req).read()  # SHUTDOWN
'''

# A Telemetry API subscriber: a listener, a subscription for platform and function events.
TELEMETRY = r'''#!/usr/bin/env python3
import http.server, json, os, sys, threading, urllib.request
runtime_api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"]
out = os.environ["EXT_OUT"]
seen = []
class Handler(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        batch = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        seen.extend(batch)
        with open(out, "a") as f:
            for event in batch:
                f.write("telemetry " + json.dumps(event) + "\n")
        self.send_response(200); self.send_header("Content-Length", "0"); self.end_headers()
    def do_GET(self):  # what it received, for a test outside the sandbox
        body = json.dumps(seen).encode()
        self.send_response(200); self.send_header("Content-Length", str(len(body))); self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
server = http.server.ThreadingHTTPServer(("127.0.0.1", int(os.environ.get("LISTENER_PORT", "0"))), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
req = urllib.request.Request(runtime_api + "/2020-01-01/extension/register", method="POST",
                             data=b'{"events": ["INVOKE", "SHUTDOWN"]}',
                             headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
host = os.environ.get("LISTENER_HOST", "127.0.0.1")
subscription = {"schemaVersion": "2022-12-13", "types": ["platform", "function"],
                "buffering": {"maxItems": 1000, "maxBytes": 262144, "timeoutMs": 25},
                "destination": {"protocol": "HTTP", "URI": f"http://{host}:{server.server_port}"}}
req = urllib.request.Request(runtime_api + "/2022-07-01/telemetry", method="PUT",
                             data=json.dumps(subscription).encode(),
                             headers={"Lambda-Extension-Identifier": ident,
                                      "Content-Type": "application/json"})
with urllib.request.urlopen(req) as r:
    with open(out, "a") as f:
        f.write(f"subscribed {r.status} {r.read().decode()}\n")
while True:
    req = urllib.request.Request(runtime_api + "/2020-01-01/extension/event/next",
                                 headers={"Lambda-Extension-Identifier": ident})
    with urllib.request.urlopen(req) as r:
        if json.loads(r.read())["eventType"] == "SHUTDOWN":
            sys.exit(0)
'''

# Registers, then exits before its first next when $EXT_OUT.crashed does not exist yet (once).
CRASH_ONCE = r'''#!/usr/bin/env python3
import os, sys, urllib.request
api = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
req = urllib.request.Request(api + "/register", method="POST", data=b'{"events": ["INVOKE"]}',
                             headers={"Lambda-Extension-Name": os.path.basename(sys.argv[0])})
with urllib.request.urlopen(req) as r:
    ident = r.headers["Lambda-Extension-Identifier"]
marker = os.environ["EXT_OUT"] + ".crashed"
if not os.path.exists(marker):
    open(marker, "w").close()
    sys.exit(3)
while True:
    req = urllib.request.Request(api + "/event/next", headers={"Lambda-Extension-Identifier": ident})
    urllib.request.urlopen(req).read()
'''

# An exec wrapper, AWS_LAMBDA_EXEC_WRAPPER=/opt/wrapper: sets a variable, starts the runtime.
WRAPPER = '''#!/bin/sh
export WRAPPED_BY="wrapper:$1"
exec "$@"
'''

# The function: asks the secrets extension (when SECRETS_PORT is set) and says what it saw.
APP = '''import json, os, socket, urllib.request

def handler(event, context):
    print("handling", context.aws_request_id)
    answer = {"wrapped": os.environ.get("WRAPPED_BY")}
    if event.get("resolve"):
        answer["sandbox"] = socket.gethostbyname("sandbox.localdomain")
    if os.environ.get("SECRETS_PORT"):
        url = "http://localhost:%s/secretsmanager/get?secretId=db" % os.environ["SECRETS_PORT"]
        with urllib.request.urlopen(url, timeout=5) as r:
            answer["secret"] = json.loads(r.read())
    return answer
'''

EXTENSIONS = {"recorder": RECORDER, "shell-ext": SHELL, "secrets": SECRETS, "telemetry-sub": TELEMETRY,
              "crash-once": CRASH_ONCE}


def layer(root: Path, *names: str, wrapper: bool = False) -> Path:
    """A layer directory with the named extensions in extensions/ (and the exec wrapper at its root)."""
    directory = root / "extensions"
    directory.mkdir(parents=True, exist_ok=True)
    for name in names:
        (directory / name).write_text(EXTENSIONS[name])
        (directory / name).chmod(0o755)
    if wrapper:
        (root / "wrapper").write_text(WRAPPER)
        (root / "wrapper").chmod(0o755)
    return root


def code(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "app.py").write_text(APP)
    return root


def zipped(directory: Path) -> bytes:
    """A directory as a zip, executable bits kept (as a layer's extensions need)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                info = zipfile.ZipInfo(str(path.relative_to(directory)))
                info.external_attr = (os.stat(path).st_mode & 0o777 | 0o100000) << 16
                archive.writestr(info, path.read_bytes())
    return buffer.getvalue()

# An internal extension: the function's module registers one at import, before the runtime's first next;
# the handler tries another, too late.
INTERNAL_APP = '''import json, os, threading, urllib.error, urllib.request
API = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2020-01-01/extension"
SEEN = []

def register(name):
    request = urllib.request.Request(API + "/register", method="POST", data=b'{"events": ["INVOKE"]}',
                                     headers={"Lambda-Extension-Name": name})
    return urllib.request.urlopen(request)

IDENTIFIER = register("inproc").headers["Lambda-Extension-Identifier"]

def poll():
    while True:
        request = urllib.request.Request(API + "/event/next",
                                         headers={"Lambda-Extension-Identifier": IDENTIFIER})
        with urllib.request.urlopen(request) as response:
            SEEN.append(json.loads(response.read())["requestId"])

threading.Thread(target=poll, daemon=True).start()

def handler(event, context):
    try:
        late = register("late").status
    except urllib.error.HTTPError as error:
        late = json.loads(error.read())["errorType"]
    return {"seen": list(SEEN), "late": late}
'''
