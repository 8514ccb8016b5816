"""``lamina build`` vs ``uv pip install --target`` plus a deflate zip made by hand, in one run, same caches.

    .venv/bin/python bench/build_bench.py [--quick] [--requirements FILE] [--python 3.12]

Both build the same fixed requirements set for Lambda (x86_64, AL2023, CPython 3.12 by default) from
uv's warm cache (one unmeasured run of each first): the peer is what a careful hand-made build does,
``uv pip install --target DIR --python-platform x86_64-manylinux_2_34 --python-version 3.12
--only-binary :all:`` then ``zipfile`` with ZIP_DEFLATED over the tree. lamina does more (strips
scripts and tests, writes bytecode for the target Python, checks every ELF file, checks the quotas,
writes a reproducible zip); its time with ``--no-bytecode`` is printed too. Runs alternate; medians.
Target: lamina <= 1.2x the peer.

Then a bundle's cold init: a fresh interpreter of the target version importing every top-level
package of the set from the unpacked zip, with bytecode in it (lamina's default) and without (as on
Lambda, where ``/var/task`` is read-only, so nothing compiled is kept). Median of N runs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))

from lamina.artifacts.bundle import build_function_zip  # noqa: E402
from lamina.artifacts.bytecode import find_interpreter  # noqa: E402
from lamina.artifacts.dependencies import uv_binary  # noqa: E402

REQUIREMENTS = "numpy\npydantic\norjson\nrequests\n"
IMPORTS = "import numpy, pydantic, orjson, requests"


def uv_and_zip(requirements: Path, workdir: Path, python_version: str) -> float:
    """The peer: uv into a directory, then a deflate zip of it by hand."""
    target = workdir / "peer"
    started = time.perf_counter()
    subprocess.run([uv_binary(), "pip", "install", "--target", str(target), "--python-platform",
                    "x86_64-manylinux_2_34", "--python-version", python_version, "--only-binary", ":all:",
                    "-q", "-r", str(requirements)], check=True)
    with zipfile.ZipFile(workdir / "peer.zip", "w", zipfile.ZIP_DEFLATED) as archive:
        for directory, _, files in os.walk(target):
            for name in sorted(files):
                path = Path(directory, name)
                archive.write(path, path.relative_to(target).as_posix())
    return time.perf_counter() - started


def lamina_build(code: Path, workdir: Path, python_version: str, bytecode: bool) -> float:
    started = time.perf_counter()
    build_function_zip(code, workdir / f"lamina-{bytecode}.zip", python_version=python_version,
                       bytecode=bytecode)
    return time.perf_counter() - started


def cold_init(interpreter: str, task_root: Path, runs: int) -> float:
    """Median seconds for a fresh interpreter to import the set from ``task_root`` (nothing written)."""
    times = []
    env = {"PYTHONPATH": str(task_root), "PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "")}
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([interpreter, "-s", "-c", IMPORTS], check=True, env=env, cwd=task_root)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def unpack(zip_path: Path, destination: Path) -> Path:
    with zipfile.ZipFile(zip_path) as archive:
        archive.extractall(destination)
    return destination


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="one measured run of each")
    parser.add_argument("--requirements", type=Path, help="a requirements file instead of the fixed set")
    parser.add_argument("--python", default="3.12", help="target Python (default 3.12)")
    args = parser.parse_args()
    runs = 1 if args.quick else 5
    with tempfile.TemporaryDirectory(prefix="lamina-build-bench-") as tmp:
        workdir = Path(tmp)
        code = workdir / "fn"
        code.mkdir()
        (code / "app.py").write_text(f"{IMPORTS}\n\ndef handler(event, context):\n    return 1\n")
        requirements = code / "requirements.txt"
        requirements.write_text(args.requirements.read_text() if args.requirements else REQUIREMENTS)
        print(f"requirements: {', '.join(requirements.read_text().split())}; Python {args.python}, x86_64")

        lamina_build(code, workdir, args.python, True)  # warm uv's cache for both
        uv_and_zip(requirements, workdir, args.python)
        peer, lamina, lamina_plain = [], [], []
        for _ in range(runs):
            for path in ("peer", "lamina-True.zip", "lamina-False.zip"):
                subprocess.run(["rm", "-rf", str(workdir / path)], check=True)
            peer.append(uv_and_zip(requirements, workdir, args.python))
            lamina.append(lamina_build(code, workdir, args.python, True))
            lamina_plain.append(lamina_build(code, workdir, args.python, False))
        p, lb, ln = (statistics.median(values) for values in (peer, lamina, lamina_plain))

        def size(name: str) -> str:
            return f"{(workdir / name).stat().st_size / 2**20:.1f} MiB"

        print(f"uv pip install --target + deflate zip: {p:6.2f} s  ({size('peer.zip')})")
        print(f"lamina build (bytecode):              {lb:6.2f} s  ({size('lamina-True.zip')})  "
              f"ratio {lb / p:.2f}x (target <= 1.2x)")
        print(f"lamina build --no-bytecode:           {ln:6.2f} s  ({size('lamina-False.zip')})  "
              f"ratio {ln / p:.2f}x")

        interpreter = find_interpreter(args.python)
        if args.requirements is not None:
            return  # the cold init imports the fixed set
        if interpreter is None:
            print(f"cold init: no Python {args.python} on this machine")
            return
        with_pyc = unpack(workdir / "lamina-True.zip", workdir / "with")
        without = unpack(workdir / "lamina-False.zip", workdir / "without")
        init_runs = 3 if args.quick else 9
        cold_init(interpreter, with_pyc, 1)  # the page cache, not the bytecode, is warmed
        cold_init(interpreter, without, 1)
        a = cold_init(interpreter, with_pyc, init_runs)
        b = cold_init(interpreter, without, init_runs)
        print(f"cold init ({IMPORTS.removeprefix('import ')}), median of {init_runs}: "
              f"with bytecode {a * 1000:.0f} ms, without {b * 1000:.0f} ms ({a / b:.2f}x)")


if __name__ == "__main__":
    main()
