"""Helpers for the local Lambda's tests: a ``lamina serve`` process, invocations, leftover checks."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.conftest import ROOT, InvokeResult, free_port, sigv4_headers, stop_process, wait_for_port

FUNCTIONS = Path(__file__).resolve().parent / "functions"
RUNTIMES = FUNCTIONS / "runtimes"
RIC = [sys.executable, "-m", "awslambdaric"]
RIC_BOOTSTRAP = " ".join(RIC)
FIXED_PATH = "/2015-03-31/functions/function/invocations"
DEFAULT_NAME = "fn"


def invoke_url(port: int, name: str = "function", qualifier: str | None = None) -> str:
    url = f"http://127.0.0.1:{port}/2015-03-31/functions/{name}/invocations"
    return url + (f"?Qualifier={qualifier}" if qualifier else "")


def post(url: str, payload: bytes | str = b"{}", headers: dict[str, str] | None = None,
         timeout: float = 30.0, signed: bool | None = None) -> InvokeResult:
    """POST as an AWS SDK does (SigV4-signed), except to AWS's emulator path, which curl calls unsigned
    (``signed`` overrides)."""
    data = payload.encode() if isinstance(payload, str) else payload
    if signed is None:
        signed = urllib.parse.urlsplit(url).path != FIXED_PATH
    if signed:
        headers = sigv4_headers("POST", url, data, headers)
    request = urllib.request.Request(url, data=data, headers=headers or {}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return InvokeResult(response.status, response.read(), dict(response.headers))
    except urllib.error.HTTPError as err:
        return InvokeResult(err.code, err.read(), dict(err.headers))


@dataclass
class LaminaServer:
    """A running ``lamina serve``; ``mark`` is set in its functions' environments (flag mode)."""

    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    mark: str = ""

    def runtime_pids(self) -> list[int]:
        """Live processes of this server's execution environments."""
        return processes_with_env(self.mark) if self.mark else []

    def url(self, name: str = DEFAULT_NAME, qualifier: str | None = None) -> str:
        return invoke_url(self.port, name, qualifier)

    def invoke(self, payload: bytes | str = b"{}", name: str = DEFAULT_NAME,
               headers: dict[str, str] | None = None, timeout: float = 30.0) -> InvokeResult:
        return post(self.url(name), payload, headers, timeout)

    def invoke_fixed(self, payload: bytes | str = b"{}", headers: dict[str, str] | None = None,
                     timeout: float = 30.0) -> InvokeResult:
        return post(f"http://127.0.0.1:{self.port}{FIXED_PATH}", payload, headers, timeout)

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def lamina_serve(args: Sequence[str], tmp_path: Path, cwd: Path | None = None,
                 env: dict[str, str] | None = None) -> Iterator[LaminaServer]:
    """``lamina serve ARGS`` on a free port; stopped (with its environments) afterwards."""
    port = free_port()
    log_path = tmp_path / f"lamina-{port}.log"
    mark = ""
    if "--handler" in args or "--code" in args:
        mark = f"LAMINA_TEST_MARK={uuid.uuid4().hex}"
        # Named, so the Invoke API path is not AWS's emulator's fixed one (/functions/function/…).
        args = [*args, "--env", mark, *([] if "--name" in args else ["--name", DEFAULT_NAME])]
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_HANDLER"))}
    full_env.update(env or {})
    full_env["PYTHONPATH"] = str(ROOT / "src")
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "lamina", "serve", "--port", str(port), *args],
                                cwd=cwd or FUNCTIONS, env=full_env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
        yield LaminaServer(proc, port, log_path, mark)
    finally:
        stop_process(proc, timeout=15)
    if mark:  # every execution environment went with the server
        deadline = time.monotonic() + 10
        while processes_with_env(mark) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert processes_with_env(mark) == [], "execution environments outlived lamina serve"


def serve_handler(handler: str, tmp_path: Path,
                  *extra: str) -> contextlib.AbstractContextManager[LaminaServer]:
    """Serve one handler of tests/local/functions with awslambdaric as the runtime."""
    return lamina_serve(["--code", str(FUNCTIONS), "--handler", handler, "--bootstrap", RIC_BOOTSTRAP,
                         *extra], tmp_path)


def lambda_client(port: int, read_timeout: int = 30) -> Any:
    """boto3's Lambda client for a ``lamina serve`` on ``port``: no retries, so each call invokes once."""
    import boto3
    import botocore.config

    return boto3.client(
        "lambda", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
        aws_access_key_id="test", aws_secret_access_key="test",
        config=botocore.config.Config(retries={"max_attempts": 1}, read_timeout=read_timeout))


def alive(pid: int) -> bool:
    """Whether ``pid`` is a running (not zombie) process."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def wait_gone(pid: int, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return False


def processes_with_env(marker: str) -> list[int]:
    """Live processes whose environment contains ``marker`` (a unique KEY=VALUE)."""
    needle = marker.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            environ = Path(f"/proc/{entry}/environ").read_bytes()
        except OSError:
            continue
        if needle in environ.split(b"\0") and alive(int(entry)):
            found.append(int(entry))
    return found


def body_json(result: InvokeResult) -> object:
    return json.loads(result.body)


def without_request_id(document: bytes, request_id_keys: tuple[str, ...] = ("requestId",)) -> object:
    """An error document with its request ids blanked, to compare two servers' answers."""
    parsed = json.loads(document)
    if isinstance(parsed, dict):
        parsed.pop("pid", None)
        for key in request_id_keys:
            if key in parsed:
                parsed[key] = "<id>"
        message = parsed.get("errorMessage")
        if isinstance(message, str) and message.startswith("RequestId: "):
            parsed["errorMessage"] = "RequestId: <id> " + message.split(" ", 2)[2]
    return parsed
