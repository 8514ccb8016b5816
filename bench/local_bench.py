#!/usr/bin/env python3
"""lamina serve vs AWS's emulator, side by side, with awslambdaric as the runtime under both.

    .venv/bin/python bench/local_bench.py [--invocations 600] [--seconds 3]

1. Sequential latency: one keep-alive client per server invokes an echo handler; short rounds
   alternate between the servers so load from the rest of the machine hits all alike, and each kind
   of server runs as ``--instances`` processes whose samples are pooled (a process keeps the CPUs it
   was first given, which moves one server's figure by a few percent). Target: lamina <= 0.7x
   emulator.
   For scale, the same client against a bare aiohttp server that answers at once (no runtime, no
   Lambda): the cost of one aiohttp exchange, which lamina no longer pays on an invocation's path (its
   Invoke API's port and its Runtime API are a leaner server on httptools).
2. Throughput at client concurrency 1, 2, 4 on a handler that waits 5 ms (as functions wait on I/O):
   lamina runs one environment per concurrent client; AWS's emulator serves one invocation at a
   time (two overlapping invocations crash it), so its clients take turns.
"""

from __future__ import annotations

import argparse
import http.client
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.instant_bench import emulator_first, serve_first  # noqa: E402
from tests.conftest import free_port, run_emulator, stop_process, wait_for_port  # noqa: E402

RIC = [sys.executable, "-m", "awslambdaric"]
PATH = "/2015-03-31/functions/function/invocations"
HANDLERS = '''
import time

def echo(event, context):
    return event

def wait_5ms(event, context):
    time.sleep(0.005)
    return event
'''


class Client:
    """A keep-alive HTTP client posting to one invoke URL."""

    def __init__(self, port: int, path: str) -> None:
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        self.path = path

    def invoke(self, body: bytes = b'{"bench":true}') -> bytes:
        self.connection.request("POST", self.path, body=body)
        response = self.connection.getresponse()
        data = response.read()
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {data[:200]!r}")
        return data


def latencies(client: Client, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        start = time.perf_counter()
        client.invoke()
        samples.append(time.perf_counter() - start)
    return samples


FLOOR_SERVER = """
import sys
from aiohttp import web

async def answer(request):
    await request.read()
    return web.Response(body=b"{}")

app = web.Application()
app.router.add_post("/{tail:.*}", answer)
web.run_app(app, host="127.0.0.1", port=int(sys.argv[1]), access_log=None, print=None)
"""


def start_floor(stack: ExitStack) -> int:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-c", FLOOR_SERVER, str(port)], start_new_session=True)
    stack.callback(stop_process, proc)
    wait_for_port(port, proc=proc)
    return port


def throughput(port: int, path: str, clients: int, seconds: float, serialize: bool) -> float:
    """Invocations per second with ``clients`` threads for ``seconds``."""
    lock = threading.Lock() if serialize else None
    counts = [0] * clients
    stop_at = time.perf_counter() + seconds
    connections = [Client(port, path) for _ in range(clients)]
    for client in connections:  # warm every environment first
        client.invoke()

    def worker(index: int) -> None:
        client = connections[index]
        while time.perf_counter() < stop_at:
            if lock is not None:
                with lock:
                    client.invoke()
            else:
                client.invoke()
            counts[index] += 1

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(counts) / (time.perf_counter() - start)


def start_lamina(stack: ExitStack, code: Path, handler: str, log_dir: Path, ric: bool = True) -> int:
    """``lamina serve`` of ``handler`` on awslambdaric (``ric``) or on lamina's own runtime."""
    port = free_port()
    name = f"lamina-{handler}-{'ric' if ric else 'lamina'}-{port}.log"
    log = stack.enter_context((log_dir / name).open("wb"))
    runtime = ["--bootstrap", " ".join(RIC)] if ric else []
    proc = subprocess.Popen(
        [sys.executable, "-m", "lamina", "serve", "--port", str(port), "--code", str(code),
         "--handler", handler, *runtime, "--concurrency", "4"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    stack.callback(stop_process, proc)
    wait_for_port(port, proc=proc)
    return port


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invocations", type=int, default=600, help="sequential invocations per server")
    parser.add_argument("--seconds", type=float, default=3.0, help="duration of each throughput run")
    parser.add_argument("--instances", type=int, default=2,
                        help="servers of each kind for the sequential latency, their samples pooled")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp, ExitStack() as stack:
        code, logs = Path(tmp) / "code", Path(tmp) / "logs"  # logs outside the code: no reloads
        code.mkdir()
        logs.mkdir()
        (code / "bench_handlers.py").write_text(HANDLERS)

        print("== sequential latency (echo handler, awslambdaric) ==")
        # Several servers of each kind: a process keeps the CPUs the scheduler first gave it, which moves
        # one server's latency by a few percent either way; pooled, each kind gets the luck of several.
        clients: dict[str, list[Client]] = {label: [] for label in
                                            ("AWS emulator", "lamina serve", "lamina+own", "aiohttp floor")}
        for _ in range(max(1, args.instances)):
            rie = stack.enter_context(run_emulator([*RIC, "bench_handlers.echo"], code, tmp_path=logs))
            clients["AWS emulator"].append(Client(rie.port, PATH))
            ric_port = start_lamina(stack, code, "bench_handlers.echo", logs)
            own_port = start_lamina(stack, code, "bench_handlers.echo", logs, ric=False)
            clients["lamina serve"].append(Client(ric_port, PATH))
            clients["lamina+own"].append(Client(own_port, PATH))
            clients["aiohttp floor"].append(Client(start_floor(stack), PATH))
        for instances in clients.values():
            for client in instances:
                latencies(client, 50)  # cold start and warm-up
        samples: dict[str, list[float]] = {label: [] for label in clients}
        rounds = 30  # short rounds: a burst of load from the rest of the machine hits every server alike
        for _ in range(rounds):
            for label, instances in clients.items():
                for client in instances:
                    samples[label] += latencies(client, max(1, args.invocations // (rounds * len(instances))))
        for label, taken in samples.items():
            print(f"{label:>13}: median {statistics.median(taken) * 1e3:.3f} ms, "
                  f"mean {statistics.fmean(taken) * 1e3:.3f} ms, "
                  f"p90 {statistics.quantiles(taken, n=10)[-1] * 1e3:.3f} ms")
        rie_samples, floor_samples = samples["AWS emulator"], samples["aiohttp floor"]
        ratio = statistics.median(samples["lamina serve"]) / statistics.median(rie_samples)
        print(f"latency ratio lamina/emulator, awslambdaric under both (median): {ratio:.2f}  "
              "(target <= 0.70)")
        own = statistics.median(samples["lamina+own"]) / statistics.median(rie_samples)
        print(f"latency ratio lamina with lamina's runtime / emulator with awslambdaric: {own:.2f}  "
              "(target <= 0.60)")
        floor = statistics.median(floor_samples) / statistics.median(rie_samples)
        print(f"one bare aiohttp exchange / emulator's whole invocation: {floor:.2f}")

        print("\n== throughput (handler waits 5 ms, awslambdaric) ==")
        rie_wait = stack.enter_context(run_emulator([*RIC, "bench_handlers.wait_5ms"], code, tmp_path=logs))
        lamina_wait = start_lamina(stack, code, "bench_handlers.wait_5ms", logs)
        base = None
        for concurrency in (1, 2, 4):
            rie_rate = throughput(rie_wait.port, PATH, concurrency, args.seconds, serialize=True)
            lamina_rate = throughput(lamina_wait, PATH, concurrency, args.seconds, serialize=False)
            base = base or lamina_rate
            print(f"concurrency {concurrency}: emulator {rie_rate:7.1f}/s  lamina {lamina_rate:7.1f}/s  "
                  f"lamina/emulator {lamina_rate / rie_rate:4.2f}x  "
                  f"lamina scaling {lamina_rate / base:4.2f}x")
        print("\n== start to first answered invocation ==")

        serve_times = sorted(serve_first(Path(tmp) / f"data-{n}") for n in range(5))
        emulator_times = sorted(emulator_first() for _ in range(5))
        serve_median, emulator_median = serve_times[2], emulator_times[2]
        print(f"lamina serve {serve_median:.3f} s, AWS emulator {emulator_median:.3f} s (medians of 5): "
              f"{serve_median / emulator_median:.1f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
