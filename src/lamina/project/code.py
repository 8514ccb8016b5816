"""A template's code as directories the local Lambda can run: directories as they are, ``.zip`` files
unpacked once (keyed by their content, so an edited zip gets a new directory), inline code written out.

Unpacked and inline code lives in ``.lamina/code/`` beside the template, where hot reload does not look.
Zips are unpacked by the control plane's distrustful extractor (no paths outside the directory).
"""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

from lamina.local.api.control_plane.unzip import extract
from lamina.local.model.service_errors import ServiceError
from lamina.project.errors import TemplateError

__all__ = ["CACHE_DIR", "code_directory", "inline_code_directory"]

CACHE_DIR = Path(".lamina") / "code"


def _cache(base: Path) -> Path:
    return base / CACHE_DIR


def code_directory(path: Path, base: Path) -> Path:
    """``path`` if it is a directory; a ``.zip`` file unpacked into the cache. Raises TemplateError."""
    if path.is_dir() or not path.exists():
        return path  # a missing directory is reported by the watcher and at invocation time, as before
    if path.suffix.lower() not in (".zip", ".jar"):
        raise TemplateError(f"{path} is neither a directory nor a .zip file")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()[:24]
    target = _cache(base) / f"zip-{digest}"
    if target.is_dir():
        return target
    staging = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    shutil.rmtree(staging, ignore_errors=True)
    try:
        with path.open("rb") as archive:
            extract(archive, staging)
    except ServiceError as exc:
        raise TemplateError(f"{path}: {exc.message}") from None
    try:
        staging.rename(target)
    except OSError:  # another process unpacked it first
        shutil.rmtree(staging, ignore_errors=True)
    return target


def inline_code_directory(code: str, file_name: str, base: Path) -> Path:
    """A directory holding ``code`` as ``file_name`` (``index.py``: what Lambda names inline code)."""
    digest = hashlib.sha256(f"{file_name}\0{code}".encode()).hexdigest()[:24]
    target = _cache(base) / f"inline-{digest}"
    if not (target / file_name).is_file():
        target.mkdir(parents=True, exist_ok=True)
        (target / file_name).write_text(code)
    return target
