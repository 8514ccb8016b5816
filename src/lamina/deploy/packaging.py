"""The zips a deploy uploads, made by lamina's artifacts package (``lamina build``, ``lamina layer build``),
and whether a deploy needs lamina's runtime layer.

Both builds are reproducible (fixed timestamps and order), so an unchanged function or runtime gives
the same bytes and the same CodeSha256, which is what lets a second deploy upload nothing.
"""

from __future__ import annotations

import io
import sys
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

from lamina.artifacts.bundle import build_function_zip
from lamina.artifacts.dependencies import Report
from lamina.artifacts.layer import MANAGED_RUNTIMES, OS_ONLY_RUNTIMES, build_layer_zip, compatible_runtimes
from lamina.artifacts.targets import PYTHON_VERSIONS
from lamina.artifacts.zipper import write_reproducible_zip
from lamina.deploy.settings import Settings

RUNTIME_LAYER_NAME = "lamina-runtime"
EXEC_WRAPPER = "/opt/lamina"  # AWS_LAMBDA_EXEC_WRAPPER for python3.x functions using the layer


def python_version_for(runtime: str) -> str:
    """The Python a function's dependencies are built for: the runtime's, else this interpreter's."""
    if runtime.startswith("python"):
        return runtime[len("python"):]
    own = f"{sys.version_info.major}.{sys.version_info.minor}"
    return own if own in PYTHON_VERSIONS else "3.12"


def function_zip(code: Path, runtime: str, arch: str, report: Report | None = None) -> bytes:
    """Build the function's deployment zip from ``code`` (code plus its requirements) and return it."""
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        out = build_function_zip(code, Path(tmp) / "function.zip", arch=arch,
                                 python_version=python_version_for(runtime), report=report)
        return out.read_bytes()


def layer_runtimes(python_dist: Path | None) -> list[str]:
    """CompatibleRuntimes of lamina's layer: without its own CPython it holds both a provided.*
    bootstrap (for a python3 found on PATH) and the python3.x exec wrapper."""
    if python_dist is not None:
        return compatible_runtimes(python_dist)
    return [*OS_ONLY_RUNTIMES, *MANAGED_RUNTIMES]


def runtime_layer_zip(arch: str, python_dist: Path | None = None,
                      report: Report | None = None) -> bytes:
    """Build lamina's runtime layer (the runtime of this lamina, and ``python_dist``'s CPython if given)."""
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        return build_layer_zip(Path(tmp) / "layer.zip", arch=arch, python_dist=python_dist,
                               report=report).read_bytes()


def directory_layer_zip(directory: Path) -> bytes:
    """A layer zip of ``directory`` as it is (its ``python/``, ``bin/``, ``lib/`` become /opt's)."""
    with tempfile.TemporaryDirectory(prefix="lamina-deploy-") as tmp:
        out = Path(tmp) / "layer.zip"
        write_reproducible_zip(directory, out)
        return out.read_bytes()


def layer_name_for(directory: Path) -> str:
    """A layer name (``[a-zA-Z0-9-_]``) from a directory's name."""
    name = "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in directory.resolve().name)
    return name or "layer"


def build_zips(settings: Settings, report: Report, warn: Callable[[str], None]) -> tuple[bytes, bytes | None]:
    """The function zip, and lamina's runtime layer zip when this deploy uses it."""
    if settings.zip_path is not None:
        zip_bytes = settings.zip_path.read_bytes()
    else:
        zip_bytes = function_zip(settings.code_dir, settings.runtime, settings.arch,
                                 report=lambda step: report(f"building: {step}"))
    use_layer = settings.with_layer
    if use_layer is None:  # a custom runtime needs a bootstrap from somewhere: lamina's
        use_layer = (settings.runtime.startswith("provided") and not _zip_has_bootstrap(zip_bytes)
                     and not any(_may_have_bootstrap(layer) for layer in settings.layers))
    if not use_layer:
        return zip_bytes, None
    on_aws = settings.endpoint_url is None
    if settings.runtime.startswith("provided") and settings.python_dist is None and on_aws:
        warn("Lambda's provided.* runtimes have no python3: pass --python-dist (a python-build-standalone "
             "archive) so the layer carries its own")
    layer_zip = runtime_layer_zip(settings.arch, settings.python_dist,
                                  report=lambda step: report(f"building layer: {step}"))
    return zip_bytes, layer_zip


def _may_have_bootstrap(layer: str) -> bool:
    """A layer ARN may well bring a bootstrap; a layer directory shows whether it does."""
    return layer.startswith("arn:") or (Path(layer) / "bootstrap").is_file()


def _zip_has_bootstrap(zip_bytes: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            return "bootstrap" in zf.namelist()
    except zipfile.BadZipFile:
        return False  # the endpoint judges the zip and answers with Lambda's own error
