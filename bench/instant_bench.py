"""Instant invokes: ``lamina invoke`` of a hello-world, and ``lamina serve``'s start to its first answer,
beside AWS's emulator's start to its first answer.

Targets (issue 17): ``lamina invoke`` ≤ 0.25 s wall; ``lamina serve`` answers ≤ 0.5 s after it starts.
Each figure is the median of ``--runs`` runs; the first answer is polled on the emulator's path
(``/2015-03-31/functions/function/invocations``, unsigned), which both serve.

    LAMINA_RIE=.cache/rie/aws-lambda-rie-x86_64 .venv/bin/python bench/instant_bench.py
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Sequence

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.conftest import free_port, free_ports  # noqa: E402

HELLO = ROOT / "examples" / "hello"
RIE = Path(os.environ.get("LAMINA_RIE", ROOT / ".cache" / "rie" / "aws-lambda-rie-x86_64"))
PATH = "/2015-03-31/functions/function/invocations"
LAMINA = [sys.executable, "-m", "lamina"]


def invoke_wall() -> float:
    started = time.perf_counter()
    subprocess.run([*LAMINA, "invoke", "app.handler", "--code", str(HELLO), "--event", '{"name": "bench"}'],
                   stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    return time.perf_counter() - started


def first_answer(command: Sequence[str], port: int, cwd: Path) -> float:
    """Seconds from starting ``command`` to the first 200 on the emulator path of ``port``."""
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        while time.perf_counter() - started < 30:
            try:
                connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                connection.request("POST", PATH, body=b"{}", headers={"Host": f"127.0.0.1:{port}"})
                if connection.getresponse().status == 200:
                    return time.perf_counter() - started
            except OSError:
                time.sleep(0.002)
        raise RuntimeError(f"no answer from {command[0]} within 30 s")
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


def serve_first(data_dir: Path) -> float:
    port = free_port()
    return first_answer([*LAMINA, "serve", "--code", str(HELLO), "--handler", "app.handler",
                         "--port", str(port), "--no-watch", "--data-dir", str(data_dir)], port, HELLO)


def emulator_first() -> float:
    port, api_port = free_ports(2)
    return first_answer([str(RIE), "--runtime-interface-emulator-address", f"127.0.0.1:{port}",
                         "--runtime-api-address", f"127.0.0.1:{api_port}",
                         sys.executable, "-m", "awslambdaric", "app.handler"], port, HELLO)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as data:
        invoke_wall()  # bytecode caches written once
        invokes = [invoke_wall() for _ in range(args.runs)]
        serves = [serve_first(Path(data)) for _ in range(args.runs)]
        emulator = [emulator_first() for _ in range(args.runs)] if RIE.exists() else []
    print(f"lamina invoke (hello world), wall        median {statistics.median(invokes):.3f} s  "
          f"min {min(invokes):.3f} s   target 0.25 s")
    print(f"lamina serve, start to first answer      median {statistics.median(serves):.3f} s  "
          f"min {min(serves):.3f} s   target 0.50 s")
    if emulator:
        rie = statistics.median(emulator)
        print(f"AWS emulator + awslambdaric, start to first answer  median {rie:.3f} s  "
              f"min {min(emulator):.3f} s")
        print(f"ratios to the emulator: invoke {statistics.median(invokes) / rie:.2f}x, "
              f"serve {statistics.median(serves) / rie:.2f}x")


if __name__ == "__main__":
    main()
