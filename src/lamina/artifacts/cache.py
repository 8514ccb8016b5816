"""Builds not repeated: a zip is kept under a digest of everything it was made from.

The digest covers the code's files (paths, contents, executable bits, as the bundle would take them),
the requirements file and any lock file it names, the target (architecture, Python, OS), the options,
and lamina's own build code, so a change to any of them gives a new digest and a new build. An
unpinned requirement is not looked up again while these stay the same: pin it (a lock file), or
rebuild on purpose.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Iterable
from pathlib import Path

import lamina
from lamina.artifacts.zipper import atomic_output

KEPT = 16  # zips kept; the oldest go first


def cache_dir() -> Path:
    """``LAMINA_CACHE_DIR``, else ``$XDG_CACHE_HOME/lamina``, else ``~/.cache/lamina``."""
    explicit = os.environ.get("LAMINA_CACHE_DIR")
    if explicit:
        return Path(explicit)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    return Path(base) / "lamina"


def _tool_digest() -> str:
    """lamina's version and the source of its build code: a new lamina builds anew."""
    digest = hashlib.sha256(getattr(lamina, "__version__", "").encode())
    for path in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(path.read_bytes())
    return digest.hexdigest()


def inputs_digest(settings: dict[str, str], files: Iterable[tuple[str, Path]]) -> str:
    """A digest of named settings and files (name in the bundle, path on disk)."""
    digest = hashlib.sha256(_tool_digest().encode())
    for key in sorted(settings):
        digest.update(f"\0{key}={settings[key]}".encode())
    for name, path in sorted(files, key=lambda item: item[0]):
        executable = os.access(path, os.X_OK)
        digest.update(f"\0{name}\0{int(executable)}\0".encode())
        file_digest = hashlib.sha256()
        with open(path, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                file_digest.update(block)
        digest.update(file_digest.digest())
    return digest.hexdigest()


def cached_zip(key: str) -> Path | None:
    path = cache_dir() / "builds" / f"{key}.zip"
    if path.is_file():
        os.utime(path)  # recently used: kept longer
        return path
    return None


def keep_zip(key: str, built: Path) -> None:
    """Keep a copy of ``built`` under ``key``; drop the oldest beyond :data:`KEPT`."""
    directory = cache_dir() / "builds"
    with atomic_output(directory / f"{key}.zip") as partial:
        shutil.copyfile(built, partial)
    kept = sorted(directory.glob("*.zip"), key=lambda path: path.stat().st_mtime, reverse=True)
    for old in kept[KEPT:]:
        old.unlink(missing_ok=True)
