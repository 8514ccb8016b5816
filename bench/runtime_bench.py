"""lamina.runtime vs awslambdaric 4.2.2, side by side in one run, on the same minimal Runtime API.

    .venv/bin/python bench/runtime_bench.py [--quick]

Both talk to the same Runtime API: ``bench/minimal_api.py``, the cheapest one that is still one, so
that what is measured is the runtimes; and for the warm loop and the large event also
``bench/plain_api.py``, a plain threaded socket server (buffered reads line by line, headers and body
written separately), so that a runtime fast only against the kind server shows it. Prints, for each
measure, both runtimes' figures and lamina's ratio to awslambdaric, with the target:
- cold start: spawn of the runtime process -> first response received by the API (no-op handler),
  median of N runs, runtimes alternated (target: lamina <= 0.6x);
- warm loop rate: 10,000 no-op invocations on one keep-alive connection (target: >= 1.6x);
- a 5 MiB event echoed back: median time per invocation, median of 3 alternated runs (target: <= 0.8x);
- peak RSS (VmHWM) after 1,000 invocations (target: <= 1.0x).
Machines here are noisy: the figures mean something only relative to each other, measured together.
"""

from __future__ import annotations

import argparse
import compileall
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List, Type, Union

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.minimal_api import MinimalRuntimeAPI  # noqa: E402
from bench.plain_api import PlainRuntimeAPI  # noqa: E402

FUNCTIONS = ROOT / "tests" / "runtime" / "functions"
RUNTIMES: Dict[str, List[str]] = {
    "awslambdaric": [sys.executable, "-m", "awslambdaric"],
    "lamina": [sys.executable, "-m", "lamina.runtime"],
}

API = Union[MinimalRuntimeAPI, PlainRuntimeAPI]
SERVERS: Dict[str, Type[API]] = {"minimal": MinimalRuntimeAPI, "plain": PlainRuntimeAPI}


def _environment(api: API) -> Dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "_HANDLER"))}
    env.update({"AWS_LAMBDA_RUNTIME_API": api.address, "PYTHONPATH": str(ROOT / "src")})
    return env


def _spawn(name: str, handler: str, api: API) -> subprocess.Popen[bytes]:
    return subprocess.Popen([*RUNTIMES[name], handler], cwd=FUNCTIONS, env=_environment(api),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _stop(proc: subprocess.Popen[bytes], api: API) -> None:
    proc.kill()
    proc.wait()
    api.close()


def cold_start(name: str) -> float:
    api = MinimalRuntimeAPI(1)
    started = time.perf_counter()
    proc = _spawn(name, "lean.h", api)
    api.wait_first()
    elapsed = time.perf_counter() - started
    _stop(proc, api)
    return elapsed


def warm_loop_rate(name: str, invocations: int, server: Type[API] = MinimalRuntimeAPI) -> float:
    api = server(invocations + 1)
    proc = _spawn(name, "lean.h", api)
    api.wait_all()
    rate = invocations / (api.last_answer_at - api.first_answer_at)  # type: ignore[operator]
    _stop(proc, api)
    return rate


def big_event() -> bytes:
    records, size, i = [], 0, 0
    while size < 5 * 1024 * 1024:
        record = {"id": i, "name": f"item-{i}", "tags": ["alpha", "beta"], "price": 12.5, "ok": True}
        records.append(record)
        size += 80
        i += 1
    return json.dumps({"records": records}).encode()


def echo_time(name: str, body: bytes, repeats: int, server: Type[API] = MinimalRuntimeAPI) -> float:
    """Median time per invocation (answer to answer) of a handler that returns its 5 MiB event."""
    api = server(repeats + 1, body)
    proc = _spawn(name, "app.echo", api)
    api.wait_all(timeout=600)
    assert json.loads(api.last_body) == json.loads(body)
    times = api.answer_times
    elapsed = statistics.median(later - earlier for earlier, later in zip(times, times[1:]))
    _stop(proc, api)
    return elapsed


def peak_rss_kib(name: str, invocations: int) -> int:
    api = MinimalRuntimeAPI(invocations)
    proc = _spawn(name, "lean.h", api)
    api.wait_all(timeout=120)
    with open(f"/proc/{proc.pid}/status") as status:
        peak = next(int(line.split()[1]) for line in status if line.startswith("VmHWM:"))
    _stop(proc, api)
    return peak


def _alternate(measure: Callable[[str], float], runs: int) -> Dict[str, List[float]]:
    results: Dict[str, List[float]] = {name: [] for name in RUNTIMES}
    for _ in range(runs):
        for name in RUNTIMES:
            results[name].append(measure(name))
    return results


def _row(label: str, theirs: float, ours: float, unit: str, target: str, met: bool) -> None:
    ratio = ours / theirs
    print(f"{label:<38} awslambdaric {theirs:>10.2f} {unit:<6} lamina {ours:>10.2f} {unit:<6} "
          f"ratio {ratio:5.2f}x  target {target:<8} {'OK' if met else 'MISSED'}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer runs (a smoke test, not a measurement)")
    args = parser.parse_args()
    cold_runs, loop_n, echo_n, rss_n = (5, 2000, 3, 200) if args.quick else (21, 10_000, 15, 1000)
    echo_rounds = 1 if args.quick else 3  # one noisy round (another process's burst) must not decide
    # Both runtimes start from bytecode, as installed packages and lamina's layer do (awslambdaric's
    # wheel install compiled it; a source checkout may run with PYTHONDONTWRITEBYTECODE set).
    compileall.compile_dir(str(ROOT / "src" / "lamina"), quiet=1)

    cold = _alternate(cold_start, cold_runs)
    theirs, ours = (statistics.median(cold[n]) * 1000 for n in ("awslambdaric", "lamina"))
    _row(f"cold start (median of {cold_runs})", theirs, ours, "ms", "<= 0.60x", ours / theirs <= 0.6)

    body = big_event()
    for server_name, server in SERVERS.items():
        rates = _alternate(lambda n: warm_loop_rate(n, loop_n, server), 3)  # noqa: B023
        theirs, ours = (max(rates[n]) for n in ("awslambdaric", "lamina"))
        _row(f"warm loop ({loop_n} inv., {server_name} API)", theirs, ours, "inv/s", ">= 1.60x",
             ours / theirs >= 1.6)

        echo = _alternate(lambda n: echo_time(n, body, echo_n, server), echo_rounds)  # noqa: B023
        theirs, ours = (statistics.median(echo[n]) * 1000 for n in ("awslambdaric", "lamina"))
        _row(f"5 MiB echoed ({echo_rounds}x{echo_n}, {server_name})", theirs, ours, "ms", "<= 0.80x",
             ours / theirs <= 0.8)

    rss = _alternate(lambda n: float(peak_rss_kib(n, rss_n)), 1)
    theirs, ours = (rss[n][0] / 1024 for n in ("awslambdaric", "lamina"))
    _row(f"peak RSS after {rss_n} invocations", theirs, ours, "MiB", "<= 1.00x", ours <= theirs)
    return 0


if __name__ == "__main__":
    sys.exit(main())
