"""Handlers that try what a hostile function would, for the isolation tests."""

import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request


def _environ(pid):
    with open(f"/proc/{pid}/environ", "rb") as environ:
        pairs = environ.read().split(b"\0")
    return dict(pair.decode(errors="replace").partition("=")[::2] for pair in pairs if b"=" in pair)


def steal_invocation(event, context):
    """Find another function's runtime, take its next invocation and answer for it."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        try:
            env = _environ(entry)
        except OSError:
            continue
        if env.get("AWS_LAMBDA_FUNCTION_NAME") == event["victim"] and "AWS_LAMBDA_RUNTIME_API" in env:
            api = env["AWS_LAMBDA_RUNTIME_API"]
            break
    else:
        return {"found": False}
    url = f"http://{api}/2018-06-01/runtime/invocation/next"
    try:
        with urllib.request.urlopen(url, timeout=float(event.get("wait", 5))) as answer:
            request_id = answer.headers["Lambda-Runtime-Aws-Request-Id"]
            forged = urllib.request.Request(f"http://{api}/2018-06-01/runtime/invocation/{request_id}/response",
                                            data=json.dumps("forged").encode(), method="POST")
            urllib.request.urlopen(forged, timeout=5).read()
            return {"found": True, "status": answer.status, "stolen": request_id}
    except urllib.error.HTTPError as err:
        return {"found": True, "status": err.code, "body": err.read().decode()}
    except OSError as exc:
        return {"found": True, "status": None, "error": str(exc)}


def start_daemon(event, context):
    """A daemon in its own session, as ``setsid`` or a double fork would leave it."""
    daemon = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(300)"],
                              start_new_session=True, stdin=subprocess.DEVNULL,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return {"daemon": daemon.pid, "runtime": os.getpid()}


def temp_dir(event, context):
    time.sleep(float(event.get("hold", 0)))
    return {"tempdir": tempfile.gettempdir(), "TMPDIR": os.environ.get("TMPDIR")}
