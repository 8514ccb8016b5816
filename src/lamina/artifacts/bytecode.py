"""Bytecode that stays valid in a zip with 1980 timestamps.

A ``.pyc`` normally records its source's mtime; the reproducible zip resets every mtime to 1980, so on
Lambda each such file looks stale, is recompiled on every cold start and never cached (``/opt`` and
``/var/task`` are read-only; aws/aws-lambda-builders#924). Rewriting the header to PEP 552's
"unchecked hash" form makes the interpreter trust the file whatever the mtime. Only used for an
interpreter's own standard library, whose sources never change under it.

Bundles and layers get bytecode written straight in that form (``compile_tree``), by an interpreter of
the target's Python version: the magic number in a ``.pyc`` is per minor version, and an interpreter
ignores bytecode of any other.
"""

from __future__ import annotations

import functools
import glob
import os
import shutil
import subprocess
import sys
from _imp import source_hash  # importlib's own SipHash of a source file (CPython 3.7+)
from pathlib import Path

from lamina.artifacts.cache import cache_dir

_TIMESTAMP = 0
_UNCHECKED_HASH = 0b01  # hash-based, do not check the source


def source_for(pyc: Path) -> Path:
    """``pkg/__pycache__/mod.cpython-312.opt-1.pyc`` -> ``pkg/mod.py``."""
    return pyc.parent.parent / f"{pyc.name.split('.', 1)[0]}.py"


def make_bytecode_unchecked(root: Path) -> int:
    """Turn every timestamp-based ``.pyc`` under ``root`` into an unchecked-hash one; return how many."""
    changed = 0
    for pyc in sorted(root.rglob("__pycache__/*.pyc")):
        data = pyc.read_bytes()
        source = source_for(pyc)
        if len(data) < 16 or int.from_bytes(data[4:8], "little") != _TIMESTAMP or not source.is_file():
            continue
        magic = data[:4]
        # importlib keys the hash with the magic number of the interpreter that reads the file.
        digest = source_hash(int.from_bytes(magic, "little"), source.read_bytes())
        pyc.write_bytes(magic + _UNCHECKED_HASH.to_bytes(4, "little") + digest + data[16:])
        changed += 1
    return changed


SUPPORTED_PYTHONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")


def _runs(interpreter: str) -> bool:
    try:
        return subprocess.run([interpreter, "-c", "pass"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


@functools.cache
def find_interpreter(version: str) -> str | None:
    """An interpreter of Python ``version`` on this machine (this one, PATH, pyenv, or uv's), if any.

    Looked up once per process: each candidate is started to see that it runs (a pyenv shim may not).
    """
    if f"{sys.version_info.major}.{sys.version_info.minor}" == version:
        return sys.executable
    candidates = [shutil.which(f"python{version}")]
    candidates += sorted(glob.glob(os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}")))
    found = next((c for c in candidates if c and _runs(c)), None)
    return found or _uv_python_find(version)


def _uv_python_find(version: str) -> str | None:
    """uv's own discovery (its managed Pythons too), never downloading one."""
    try:
        from uv import find_uv_bin

        result = subprocess.run([str(find_uv_bin()), "python", "find", "--no-python-downloads", version],
                                capture_output=True, text=True, timeout=60)
    except (ImportError, FileNotFoundError, OSError, subprocess.TimeoutExpired):
        return None
    path = result.stdout.strip()
    return path if result.returncode == 0 and path and _runs(path) else None


# Run by the target interpreter: argv = root, install path, cache directory. Each module's bytecode is
# kept under a digest of (the interpreter's magic number, the path it will have on Lambda, its source),
# so a rebuild copies what it compiled before and compiles only what changed (in parallel).
_COMPILE = r"""
import concurrent.futures, hashlib, importlib.util, os, py_compile, shutil, sys
root, install, cache = sys.argv[1:4]
magic = importlib.util.MAGIC_NUMBER
def compile_one(job):
    source, target, dfile, kept = job
    try:
        py_compile.compile(source, cfile=target, dfile=dfile, doraise=True,
                           invalidation_mode=py_compile.PycInvalidationMode.UNCHECKED_HASH)
    except Exception:
        return
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    partial = "%s.%d" % (kept, os.getpid())
    shutil.copyfile(target, partial)
    os.replace(partial, kept)
if __name__ == "__main__":
    jobs = []
    for directory, subdirectories, files in os.walk(root):
        subdirectories[:] = sorted(d for d in subdirectories if d != "__pycache__")
        for name in sorted(files):
            if not name.endswith(".py"):
                continue
            source = os.path.join(directory, name)
            dfile = install.rstrip("/") + "/" + os.path.relpath(source, root).replace(os.sep, "/")
            with open(source, "rb") as handle:
                key = hashlib.sha256(magic + dfile.encode() + b"\0" + handle.read()).hexdigest()
            kept = os.path.join(cache, key[:2], key + ".pyc")
            target = importlib.util.cache_from_source(source)
            if os.path.exists(kept):
                os.makedirs(os.path.dirname(target), exist_ok=True)
                shutil.copyfile(kept, target)
            else:
                jobs.append((source, target, dfile, kept))
    if len(jobs) > 32:
        with concurrent.futures.ProcessPoolExecutor() as pool:
            list(pool.map(compile_one, jobs, chunksize=16))
    else:
        for job in jobs:
            compile_one(job)
"""


def compile_tree(root: Path, interpreter: str, install_path: str, cache: Path | None = None) -> None:
    """Write unchecked-hash bytecode for every module under ``root`` with ``interpreter``.

    ``install_path`` is where ``root`` will be on Lambda (``/var/task``, ``/opt/python``): tracebacks name
    it, and this machine's temporary path never reaches the bytecode, so builds stay byte-identical.
    Files that do not compile for the target (Python 2 leftovers, templates) are left as source.
    Compiled modules are kept in ``cache`` (lamina's cache directory by default) for the next build.
    """
    if cache is None:
        cache = cache_dir() / "bytecode"
    subprocess.run([interpreter, "-c", _COMPILE, str(root), install_path, str(cache)], capture_output=True,
                   timeout=1800, env={**os.environ, "PYTHONHASHSEED": "0"})  # constants in a fixed order


def precompile_package(package: Path, install_path: str, versions: tuple[str, ...] = SUPPORTED_PYTHONS,
                       extra: tuple[str, ...] = ()) -> list[str]:
    """Write unchecked-hash bytecode for ``package`` with every interpreter found for ``versions``.

    A layer's files are read-only on Lambda, so source without bytecode is compiled again on every
    cold start; each interpreter writes its own ``__pycache__/*.cpython-3XY.pyc`` and picks only its
    own. ``install_path`` is where the package will live (``/opt/python/lamina``), recorded in the
    bytecode instead of this machine's temporary path so the layer stays reproducible. Returns the
    versions compiled for.
    """
    compiled = []
    interpreters = [(v, find_interpreter(v)) for v in versions] + [("bundled", e) for e in extra if _runs(e)]
    seen = set()
    for version, interpreter in interpreters:
        if interpreter is None or interpreter in seen:
            continue
        seen.add(interpreter)
        compile_tree(package, interpreter, install_path)
        compiled.append(version)
    return compiled
