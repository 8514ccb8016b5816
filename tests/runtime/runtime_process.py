"""``python -m lamina.runtime`` as a child process of a test, against a stub Runtime API."""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

from tests.runtime.stub_api import StubRuntimeAPI

FUNCTIONS = Path(__file__).parent / "functions"
ROOT = Path(__file__).resolve().parents[2]


class Runtime:
    """``python -m lamina.runtime`` as a child process, stopped at teardown."""

    def __init__(self, api: StubRuntimeAPI, handler: Optional[str], env: Optional[Dict[str, str]] = None,
                 pass_fds: tuple = ()) -> None:  # type: ignore[type-arg]
        environment = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER"))}
        environment.update({"AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT / "src")})
        environment.update(env or {})
        argv = [sys.executable, "-m", "lamina.runtime"] + ([handler] if handler else [])
        # Files, not pipes: the environment (here, the test) must never block the runtime's output.
        self.out, self.err = tempfile.TemporaryFile(), tempfile.TemporaryFile()  # noqa: SIM115
        self.proc = subprocess.Popen(argv, cwd=FUNCTIONS, env=environment, stdout=self.out,
                                     stderr=self.err, pass_fds=pass_fds)

    def finish(self, timeout: float = 10.0) -> tuple:  # type: ignore[type-arg]
        try:
            self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        return self.proc.returncode, self._read(self.out), self._read(self.err)

    @staticmethod
    def _read(file) -> str:  # type: ignore[no-untyped-def]
        file.seek(0)
        return file.read().decode(errors="replace")

    def stop(self) -> str:
        """Kill the runtime; return what it wrote to stdout."""
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()
        return self._read(self.out)

    def close(self) -> None:
        self.stop()
        self.out.close()
        self.err.close()


def start(runtimes: List[Runtime], api: StubRuntimeAPI, handler: Optional[str], **kwargs) -> Runtime:  # type: ignore[no-untyped-def]
    runtime = Runtime(api, handler, **kwargs)
    runtimes.append(runtime)
    return runtime
