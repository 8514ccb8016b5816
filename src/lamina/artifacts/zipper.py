"""Reproducible zips, written so that a failed build never leaves a half-written file behind.

The same tree gives the same bytes: entries sorted by path, every timestamp 1980-01-01 (the zip epoch),
permissions reduced to 0644 or 0755, Unix attributes, deflate at a fixed level. Content hashes therefore
change only when content does, which keeps ``CodeSha256`` and deploy diffs honest.
Symbolic links are stored as the files they point to (Lambda's unzip is not guaranteed to keep them);
a link that leaves the tree is refused, because the file it names will not exist on Lambda.
"""

from __future__ import annotations

import contextlib
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

from lamina.artifacts.errors import BuildError

ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
COMPRESS_LEVEL = 6


def tree_files(root: Path) -> list[tuple[str, Path]]:
    """(path in the zip, file on disk) for every file under ``root``, links resolved, sorted by zip path."""
    root = root.resolve()
    found: list[tuple[str, Path]] = []

    def walk(directory: Path, prefix: str, seen: frozenset[Path]) -> None:
        for entry in sorted(os.scandir(directory), key=lambda item: item.name):
            arcname = f"{prefix}{entry.name}"
            path = Path(entry.path)
            real = path.resolve()
            if entry.is_symlink():
                if real != root and root not in real.parents:
                    raise BuildError(f"{arcname} is a symbolic link to {os.readlink(path)}, outside the "
                                     "bundle: copy the file in or remove the link")
                if not real.exists():
                    raise BuildError(f"{arcname} is a broken symbolic link: fix or remove it")
            if real.is_dir():
                if real in seen:
                    raise BuildError(f"{arcname} is a symbolic link loop: remove the link")
                walk(real, f"{arcname}/", seen | {real})
            elif real.is_file():
                found.append((arcname, real))

    walk(root, "", frozenset({root}))
    found.sort(key=lambda item: item[0])
    return found


def write_reproducible_zip(root: Path, out: Path) -> None:
    """Zip the tree at ``root`` into ``out`` so that the same tree always gives the same bytes."""
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as archive:
        for arcname, path in tree_files(root):
            executable = bool(path.stat().st_mode & (stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH))
            info = zipfile.ZipInfo(arcname, date_time=ZIP_EPOCH)
            info.create_system = 3  # Unix, so external_attr carries the mode
            info.external_attr = (stat.S_IFREG | (0o755 if executable else 0o644)) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            archive.writestr(info, path.read_bytes(), compresslevel=COMPRESS_LEVEL)


@contextlib.contextmanager
def atomic_output(out: Path) -> Iterator[Path]:
    """A temporary path beside ``out`` that becomes ``out`` only if the block finishes without error.

    Renaming within one directory is atomic, so ``out`` is either the previous file or the complete new
    one, never a partial zip that a later deploy would upload.
    """
    if out.is_dir():
        raise BuildError(f"output {out} is a directory: give a file path such as {out / 'function.zip'}")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, out)
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
