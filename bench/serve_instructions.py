#!/usr/bin/env python3
"""Instructions ``lamina serve`` executes per invocation, counted by valgrind's cachegrind: this tree
against another revision, measured in the same run.

    .venv/bin/python bench/serve_instructions.py [--against HEAD~3] [--runtime own|ric]

Why instructions: on a shared VM the wall-clock figures of ``local_bench.py`` move by ±5% from one
server process to the next, so a change worth 3% cannot be seen there; the instructions serve runs
per invocation are the same from run to run within about 1%. Each figure is the difference between
a run of ``--invocations`` and one of a fifth as many, so start-up cancels out; what remains is the
invocation path plus the housekeeping that runs on a clock (memory sampling), which is small.
Needs ``valgrind`` on ``PATH`` (it is not a dependency of lamina: this is a tool for whoever changes
the invocation path). Serve runs under valgrind about 50 times slower: a run takes a minute or two.
"""

from __future__ import annotations

import argparse
import http.client
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.local_bench import HANDLERS, PATH, RIC  # noqa: E402
from tests.conftest import free_port, wait_for_port  # noqa: E402


def instructions(src: Path, code: Path, runtime: str, invocations: int) -> int:
    """Instructions (cachegrind's ``I refs``) of one ``lamina serve`` run answering ``invocations``."""
    port = free_port()
    with tempfile.TemporaryDirectory() as tmp:
        log = Path(tmp) / "cachegrind.log"
        bootstrap = ["--bootstrap", " ".join(RIC)] if runtime == "ric" else []
        proc = subprocess.Popen(
            ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null",
             f"--log-file={log}", sys.executable, "-m", "lamina", "serve", "--port", str(port),
             "--code", str(code), "--handler", "bench_handlers.echo", "--no-watch", *bootstrap],
            env={**os.environ, "PYTHONPATH": str(src)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            start_new_session=True)
        try:
            wait_for_port(port, timeout=300, proc=proc)
            client = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
            for _ in range(invocations):
                client.request("POST", PATH, body=b'{"bench":true}')
                client.getresponse().read()
            client.close()
            proc.send_signal(signal.SIGINT)
            proc.wait(300)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        found = re.search(r"I\s+refs:\s+([\d,]+)", log.read_text())
        if found is None:
            raise RuntimeError(f"no instruction count in cachegrind's log:\n{log.read_text()[-2000:]}")
        return int(found.group(1).replace(",", ""))


def per_invocation(src: Path, code: Path, runtime: str, invocations: int) -> float:
    few = max(1, invocations // 5)
    return (instructions(src, code, runtime, invocations) - instructions(src, code, runtime, few)) / (
        invocations - few)


def checkout(revision: str, into: Path) -> Path:
    """The ``src`` directory of ``revision``, exported from git into ``into``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "src"], check=True,
                             capture_output=True).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / "src"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--against", default="HEAD", help="the git revision to compare with")
    parser.add_argument("--runtime", choices=("own", "ric"), default="own",
                        help="lamina's runtime, or awslambdaric, as the function's runtime")
    parser.add_argument("--invocations", type=int, default=1500)
    args = parser.parse_args()
    if shutil.which("valgrind") is None:
        print("valgrind is not installed: nothing to count with", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory() as tmp:
        code = Path(tmp) / "code"
        code.mkdir()
        (code / "bench_handlers.py").write_text(HANDLERS)
        other = checkout(args.against, Path(tmp))
        here = per_invocation(ROOT / "src", code, args.runtime, args.invocations)
        there = per_invocation(other, code, args.runtime, args.invocations)
    print(f"instructions per invocation of lamina serve ({args.runtime} runtime, {args.invocations} "
          f"invocations): this tree {here:,.0f}, {args.against} {there:,.0f}: {here / there:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
