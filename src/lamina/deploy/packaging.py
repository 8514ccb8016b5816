"""The zips a deploy uploads, made by lamina's artifacts package (``lamina build``, ``lamina layer build``),
and whether a deploy needs lamina's runtime layer.

Both builds are reproducible (fixed timestamps and order), so an unchanged function or runtime gives
the same bytes and the same CodeSha256, which is what lets a second deploy upload nothing; and both are
kept under a digest of their inputs (:mod:`lamina.artifacts.cache`), so a deploy whose inputs did not
change does not build at all.
"""

from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import lamina.runtime
from lamina.artifacts import cache
from lamina.artifacts.bundle import build_function_zip, build_function_zip_once
from lamina.artifacts.bytecode import SUPPORTED_PYTHONS, find_interpreter
from lamina.artifacts.dependencies import Report
from lamina.artifacts.layer import MANAGED_RUNTIMES, OS_ONLY_RUNTIMES, build_layer_zip, compatible_runtimes
from lamina.artifacts.limits import ZIPPED_LIMIT
from lamina.artifacts.targets import PYTHON_VERSIONS, default_os
from lamina.artifacts.zipper import tree_files, write_reproducible_zip
from lamina.deploy.settings import Settings

RUNTIME_LAYER_NAME = "lamina-runtime"
EXEC_WRAPPER = "/opt/lamina"  # AWS_LAMBDA_EXEC_WRAPPER for python3.x functions using the layer


def python_version_for(runtime: str) -> str:
    """The Python a function's dependencies are built for: the runtime's, else this interpreter's."""
    if runtime.startswith("python"):
        return runtime[len("python"):]
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    return own if own in PYTHON_VERSIONS else "3.12"


def os_for(runtime: str) -> str:
    """The OS a runtime runs on: provided.al2023 / provided.al2 say it, python3.x as AWS documents."""
    if runtime.startswith("provided"):
        return "al2" if runtime == "provided.al2" else "al2023"
    return default_os(python_version_for(runtime))


def function_zip(settings: Settings, report: Report | None = None, warn: Report | None = None,
                 reused: Callable[[str], None] | None = None) -> bytes:
    """The function's zip: ``--zip`` as given, else built from its code (unless built from the same inputs
    before: then ``reused`` is told, and nothing is built)."""
    if settings.zip_path is not None:
        return settings.zip_path.read_bytes()
    zipped_limit = None if settings.s3_bucket else ZIPPED_LIMIT
    arguments = {"arch": settings.arch, "python_version": python_version_for(settings.runtime),
                 "os_name": os_for(settings.runtime), "report": report, "bytecode": settings.bytecode,
                 "warn": warn, "zipped_limit": zipped_limit}
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        out = Path(tmp) / "function.zip"
        if settings.rebuild:
            build_function_zip(settings.code_dir, out, **arguments)  # type: ignore[arg-type]
        else:
            build_function_zip_once(settings.code_dir, out, reused=reused, **arguments)  # type: ignore[arg-type]
        return out.read_bytes()


def layer_runtimes(python_dist: Path | None) -> list[str]:
    """CompatibleRuntimes of lamina's layer: without its own CPython it holds both a provided.*
    bootstrap (for a python3 found on PATH) and the python3.x exec wrapper."""
    if python_dist is not None:
        return compatible_runtimes(python_dist)
    return [*OS_ONLY_RUNTIMES, *MANAGED_RUNTIMES]


def runtime_layer_zip(arch: str, python_dist: Path | None = None, report: Report | None = None,
                      rebuild: bool = False) -> bytes:
    """lamina's runtime layer (the runtime of this lamina, and ``python_dist``'s CPython if given), built
    once per runtime source, archive and set of Pythons it carries bytecode for."""
    runtime_dir = Path(lamina.runtime.__file__).parent
    files = [(f"runtime/{name}", path) for name, path in tree_files(runtime_dir) if "__pycache__" not in name]
    if python_dist is not None:
        files.append(("\0python_dist", python_dist))
    pythons = "" if python_dist else ",".join(v for v in SUPPORTED_PYTHONS if find_interpreter(v))
    key = cache.inputs_digest({"layer": "runtime", "arch": arch, "pythons": pythons}, files)
    earlier = None if rebuild else cache.cached_zip(key)
    if earlier is not None:
        return earlier.read_bytes()
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        out = build_layer_zip(Path(tmp) / "layer.zip", arch=arch, python_dist=python_dist, report=report)
        cache.keep_zip(key, out)
        return out.read_bytes()


def directory_layer_zip(directory: Path) -> bytes:
    """A layer zip of ``directory`` as it is (its ``python/``, ``bin/``, ``lib/`` become /opt's)."""
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        out = Path(tmp) / "layer.zip"
        write_reproducible_zip(directory, out)
        return out.read_bytes()


def layer_name_for(path: Path) -> str:
    """A layer name (``[a-zA-Z0-9-_]``) from a directory's or a zip's name."""
    resolved = path.resolve()
    stem = resolved.stem if resolved.suffix == ".zip" else resolved.name
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in stem)
    return name or "layer"


def local_layer_zip(layer: str) -> bytes:
    """The zip of a layer given as a directory or as a zip file."""
    path = Path(layer)
    return path.read_bytes() if path.is_file() else directory_layer_zip(path)


def zip_has_bootstrap(zip_bytes: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            return "bootstrap" in zf.namelist()
    except zipfile.BadZipFile:
        return False  # the endpoint judges the zip and answers with Lambda's own error


def local_layer_has_bootstrap(layer: str) -> bool:
    path = Path(layer)
    return zip_has_bootstrap(path.read_bytes()) if path.is_file() else (path / "bootstrap").is_file()
