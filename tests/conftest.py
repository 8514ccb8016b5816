"""Peers and fixtures shared by every test: free ports, AWS's emulator, processes that clean up."""

from __future__ import annotations

import contextlib
import os
import random
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def sigv4_headers(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None,
                  access_key: str = "test", secret_key: str = "test",
                  region: str = "us-east-1") -> dict[str, str]:
    """``headers`` plus the SigV4 ``Authorization`` and ``X-Amz-Date`` boto3 would send for this request.

    ``lamina serve`` refuses unsigned Invoke and control-plane writes (a web page could send those);
    tests that speak the API by hand sign as an AWS SDK does, with botocore's own signer.
    """
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    SigV4Auth(Credentials(access_key, secret_key), "lambda", region).add_auth(request)
    return {key: str(value) for key, value in request.headers.items()}


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def _below_ephemeral() -> range:
    """Ports below the kernel's ephemeral range: no socket bound to port 0 (a Runtime API listener, an
    outgoing connection) is ever given one of them, so a port chosen here stays free until its server
    binds it, however many tests run beside this one."""
    try:
        low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        low = 32768
    return range(max(1024, low - 12000), max(2048, low))


def free_ports(count: int) -> list[int]:
    """``count`` different free ports, chosen at random below the ephemeral range and all held at
    once while they are chosen (two tests choosing at the same moment rarely meet)."""
    candidates = _below_ephemeral()
    pick = random.SystemRandom()  # not the random module's state, which a test may have seeded
    chosen: list[int] = []
    with contextlib.ExitStack() as stack:
        while len(chosen) < count:
            port = pick.choice(candidates)
            if port in chosen:
                continue
            sock = stack.enter_context(socket.socket())
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue  # taken, or lingering in TIME_WAIT
            chosen.append(port)
    return chosen


def wait_for_port(port: int, timeout: float = 10.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before listening on {port}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.2):
            return
        time.sleep(0.02)
    raise TimeoutError(f"nothing listened on 127.0.0.1:{port} within {timeout}s")


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 5.0) -> None:
    """Terminate a process (and its group when it leads one), then kill it if it lingers."""
    if proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, 15)
    except (ProcessLookupError, PermissionError):
        proc.terminate()
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, 9)
        proc.kill()
        proc.wait(timeout)


def rie_binary() -> Path:
    """AWS's Runtime Interface Emulator, fetched once from the aws-sam-cli wheel by scripts/dev.py."""
    env_path = os.environ.get("LAMINA_RIE")
    if env_path and Path(env_path).exists():
        return Path(env_path)
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "dev.py"), "rie-path"], check=True,
                         capture_output=True, text=True)
    return Path(out.stdout.strip().splitlines()[-1])


@dataclass
class InvokeResult:
    status: int
    body: bytes
    headers: dict[str, str]


@dataclass
class Emulator:
    """AWS's emulator running one runtime command; ``invoke`` posts to its fixed invocation path."""

    proc: subprocess.Popen[bytes]
    port: int
    api_port: int
    log_path: Path
    extra: dict[str, str] = field(default_factory=dict)

    def invoke(self, payload: bytes | str = b"{}", headers: dict[str, str] | None = None,
               timeout: float = 30.0) -> InvokeResult:
        data = payload.encode() if isinstance(payload, str) else payload
        request = urllib.request.Request(
            f"http://127.0.0.1:{self.port}/2015-03-31/functions/function/invocations",
            data=data, headers=headers or {}, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return InvokeResult(response.status, response.read(), dict(response.headers))
        except urllib.error.HTTPError as err:
            return InvokeResult(err.code, err.read(), dict(err.headers))

    def logs(self) -> str:
        return self.log_path.read_text(errors="replace")


@contextlib.contextmanager
def run_emulator(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None,
                 tmp_path: Path | None = None) -> Iterator[Emulator]:
    """Start AWS's emulator with ``command`` (runtime command then handler) in ``cwd``; stop it after."""
    port, api_port = free_ports(2)
    log_dir = tmp_path or Path(os.environ.get("TMPDIR", "/tmp"))
    log_path = log_dir / f"rie-{port}.log"
    full_env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_LAMBDA_", "_HANDLER"))}
    full_env.update(env or {})
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            [str(rie_binary()), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
             "--runtime-api-address", f"127.0.0.1:{api_port}", *command],
            cwd=cwd, env=full_env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc=proc)
        yield Emulator(proc, port, api_port, log_path)
    finally:
        stop_process(proc)


@pytest.fixture
def emulator_factory(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Start AWS's emulator for a runtime command; every emulator started is stopped at teardown."""
    stack = contextlib.ExitStack()

    def start(command: Sequence[str], cwd: Path, env: dict[str, str] | None = None) -> Emulator:
        return stack.enter_context(run_emulator(command, cwd, env, tmp_path))

    with stack:
        yield start
