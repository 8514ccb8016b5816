"""The main job: serve examples/hello locally with lamina's runtime and invoke it, as a user would.

1. ``lamina serve`` on a free port, serving examples/hello (handler ``app.handler``) as ``hello``;
2. boto3's ``invoke`` against it (``endpoint_url``, dummy credentials, us-east-1), with the log tail;
3. ``lamina invoke`` on the same function, in-process, without a server;
4. the server is stopped, and its execution environments with it.

Run through ``python3 scripts/dev.py demo`` (which sets up .venv first).
"""

from __future__ import annotations

import base64
import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
HELLO = ROOT / "examples" / "hello"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"lamina serve exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"lamina serve did not listen on {port} within {timeout}s")


def invoke_with_boto3(port: int) -> None:
    import boto3

    client = boto3.client("lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                          aws_access_key_id="demo", aws_secret_access_key="demo")
    for name in ("lamina", "boto3"):
        response = client.invoke(FunctionName="hello", Payload=json.dumps({"name": name}), LogType="Tail")
        print(f"boto3 invoke -> StatusCode {response['StatusCode']}, "
              f"ExecutedVersion {response['ExecutedVersion']}")
        print("  payload:", response["Payload"].read().decode())
        print("  log tail:")
        for line in base64.b64decode(response["LogResult"]).decode().splitlines():
            print("    " + line)


def main() -> int:
    port = free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    serve = [sys.executable, "-m", "lamina", "serve", "--port", str(port), "--code", str(HELLO),
             "--handler", "app.handler", "--name", "hello"]
    print("+", " ".join(serve), flush=True)
    server = subprocess.Popen(serve, cwd=ROOT, env=env, start_new_session=True)
    try:
        wait_for_port(port, server)
        invoke_with_boto3(port)
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    print(f"lamina serve stopped (exit status {server.returncode})", flush=True)

    invoke = [sys.executable, "-m", "lamina", "invoke", "app.handler", "--code", str(HELLO),
              "--name", "hello", "--event", json.dumps({"name": "lamina invoke"})]
    print("+", " ".join(invoke), flush=True)
    status = subprocess.call(invoke, cwd=ROOT)
    print(f"lamina invoke exit status {status}")
    return 0 if server.returncode == 0 and status == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
