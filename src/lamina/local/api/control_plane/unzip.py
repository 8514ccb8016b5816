"""Unpack an uploaded deployment package without ever writing outside its destination.

A zip comes from the network, so every entry is distrusted: absolute names, ``..`` components,
drive letters, symbolic links that resolve outside the root, and archives that inflate past
Lambda's unzipped limit (counted while writing, so a lying header does not help) are refused with
AWS's exception. Extraction goes into a fresh directory that the caller renames into place, and
is removed whole on any refusal.
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import zipfile
from pathlib import Path, PurePosixPath
from typing import IO

from lamina.local.model import service_errors as errors
from lamina.runtime import protocol

log = logging.getLogger("lamina.control_plane")

MAX_ENTRIES = 100_000
MAX_RATIO = 1000  # a legitimate deployment package never compresses a large entry 1000:1
RATIO_MIN_SIZE = 1024 * 1024  # …but tiny files of zeros may, harmlessly
CHUNK = 1024 * 1024


def extract(archive: IO[bytes], dest: Path, limit: int = protocol.MAX_UNZIPPED_CODE) -> int:
    """Extract ``archive`` into ``dest`` (which must not exist); return the unzipped size in bytes."""
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise _bad_zip(f"not a zip archive: {exc}") from None
    dest.mkdir(parents=True)
    try:
        with zf:
            return _extract_members(zf, dest.resolve(), limit)
    except errors.ServiceError:
        shutil.rmtree(dest, ignore_errors=True)
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, ValueError, EOFError,
            NotImplementedError, RuntimeError) as exc:
        # zlib errors and CRC mismatches surface as these; RuntimeError is an encrypted entry
        shutil.rmtree(dest, ignore_errors=True)
        raise _bad_zip(str(exc) or type(exc).__name__) from None


def _extract_members(zf: zipfile.ZipFile, root: Path, limit: int) -> int:
    infos = zf.infolist()
    if len(infos) > MAX_ENTRIES:
        raise _bad_zip(f"more than {MAX_ENTRIES} entries")
    declared = sum(info.file_size for info in infos)
    if declared > limit:
        raise errors.unzipped_too_large()
    links: list[tuple[Path, str]] = []
    link_names: set[PurePosixPath] = set()
    written = 0
    for info in infos:
        rel = _safe_relative(info.filename)
        if rel is None:
            continue  # the root directory itself
        if any(parent in link_names for parent in rel.parents):
            raise _bad_zip(f"entry {info.filename!r} is inside a symbolic link")
        target = root.joinpath(*rel.parts)
        if _is_symlink(info):
            links.append((target, zf.read(info).decode("utf-8", "surrogateescape")))
            link_names.add(rel)
            continue
        if info.is_dir():
            target.mkdir(parents=True, exist_ok=True)
            continue
        if info.compress_size and info.file_size > RATIO_MIN_SIZE \
                and info.file_size / info.compress_size > MAX_RATIO:
            raise _bad_zip(f"entry {info.filename!r} has a compression ratio typical of a zip bomb")
        target.parent.mkdir(parents=True, exist_ok=True)
        written = _copy_entry(zf, info, target, written, limit)
        mode = (info.external_attr >> 16) & 0o777
        os.chmod(target, (mode or 0o644) | 0o400)  # keep exec bits (bootstrap); always readable
    for path, link_target in links:
        _make_link(root, path, link_target)
    # a link made early may resolve through one made later: check them all once all exist
    for path, _ in links:
        _check_inside(root, path)
    return written


def _safe_relative(name: str) -> PurePosixPath | None:
    """The entry's path relative to the root, or a refusal when it could land outside it."""
    normalized = name.replace("\\", "/")
    if "\x00" in normalized:
        raise _bad_zip(f"entry {name!r} has a NUL byte in its name")
    if normalized.startswith("/") or (len(normalized) > 1 and normalized[1] == ":"):
        raise _bad_zip(f"entry {name!r} has an absolute path")
    parts = [part for part in normalized.split("/") if part not in ("", ".")]
    if ".." in parts:
        raise _bad_zip(f"entry {name!r} escapes the root with '..'")
    return PurePosixPath(*parts) if parts else None


def _is_symlink(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def _copy_entry(zf: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, written: int, limit: int) -> int:
    """Copy one entry, counting real inflated bytes against ``limit`` (headers can lie)."""
    with zf.open(info) as src, open(target, "xb") as out:
        while chunk := src.read(CHUNK):
            written += len(chunk)
            if written > limit:
                raise errors.unzipped_too_large()
            out.write(chunk)
    return written


def _make_link(root: Path, path: Path, link_target: str) -> None:
    if not link_target or "\x00" in link_target or os.path.isabs(link_target):
        raise _bad_zip(f"symbolic link {path.relative_to(root)} points to an absolute path")
    path.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(link_target, path)
    _check_inside(root, path)


def _check_inside(root: Path, path: Path) -> None:
    resolved = Path(os.path.realpath(path))
    if resolved != root and root not in resolved.parents:
        raise _bad_zip(f"symbolic link {path.relative_to(root)} points outside the archive")


def _bad_zip(reason: str) -> errors.ServiceError:
    """AWS's refusal; the reason, which AWS does not give, goes to lamina's log for the user."""
    log.warning("refused an uploaded zip: %s", reason)
    return errors.bad_zip()
