"""Lambda's size quotas, checked during the build so that an oversized bundle fails here, not at upload.

Quotas (Lambda docs, gettingstarted-limits; ``GetAccountSettings`` gives them in bytes): 50 MiB
(52,428,800 bytes) zipped for a direct upload, none for a zip Lambda reads from S3, and 250 MiB
(262,144,000 bytes) unzipped for the function and all its layers together. Sizes are said in MiB, the
unit of those byte counts. When a bundle is over, the error names what takes the room: the top-level
packages of the bundle by the size that is over (unzipped, or zipped in the archive), which is what a
user can drop or move to a layer.
"""

from __future__ import annotations

import zipfile
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path
from typing import Callable

from lamina.artifacts.errors import BuildError
from lamina.artifacts.zipper import atomic_output, tree_files, write_reproducible_zip
from lamina.runtime.protocol import MAX_UNZIPPED_CODE, MAX_ZIPPED_DIRECT_UPLOAD

MB = MiB = 1024 * 1024
ZIPPED_LIMIT = MAX_ZIPPED_DIRECT_UPLOAD
UNZIPPED_LIMIT = MAX_UNZIPPED_CODE
WAYS_OUT = ("move dependencies to a layer (lamina layer build --requirements FILE) "
            "or upload through S3 (lamina deploy --s3-bucket BUCKET)")


def megabytes(size: int) -> str:
    """A size in MiB, said as MiB (Lambda's quotas are whole MiB: 50 MiB, 250 MiB)."""
    return f"{size / MiB:.1f} MiB"


def package_of(arcname: str) -> str:
    """The top-level entry a file belongs to (a package with its ``.dist-info``)."""
    top = arcname.split("/", 1)[0]
    if top.endswith((".dist-info", ".data")):
        top = top.split("-", 1)[0].lower()
    return top


def largest(sizes: Iterable[tuple[str, int]], count: int = 3) -> list[tuple[str, int]]:
    totals: dict[str, int] = defaultdict(int)
    for arcname, size in sizes:
        totals[package_of(arcname)] += size
    return sorted(totals.items(), key=lambda item: (-item[1], item[0]))[:count]


def largest_contributors(root: Path, count: int = 3) -> list[tuple[str, int]]:
    """The top-level entries of a tree by unzipped size."""
    return largest(((arcname, path.stat().st_size) for arcname, path in tree_files(root)), count)


def largest_zipped(zip_path: Path, count: int = 3) -> list[tuple[str, int]]:
    """The top-level entries of a zip by their compressed size in it."""
    with zipfile.ZipFile(zip_path) as archive:
        return largest(((info.filename, info.compress_size) for info in archive.infolist()), count)


def sizes_text(sizes: list[tuple[str, int]]) -> str:
    return ", ".join(f"{name} {megabytes(size)}" for name, size in sizes)


def check_unzipped_size(root: Path, what: str = "the bundle", limit: int = UNZIPPED_LIMIT) -> None:
    """Checked before zipping, so an oversized tree fails without the cost of compressing it."""
    unzipped = sum(path.stat().st_size for _, path in tree_files(root))
    if unzipped > limit:
        raise BuildError(
            f"{what} is {megabytes(unzipped)} unzipped, over Lambda's {megabytes(limit)} limit "
            f"(largest, unzipped: {sizes_text(largest_contributors(root))}): drop dependencies you do not "
            "import, or ship a container image")


def check_zipped_size(zip_path: Path, what: str = "the bundle", limit: int = ZIPPED_LIMIT) -> None:
    """Checked on the finished zip, before it is renamed into place."""
    zipped = zip_path.stat().st_size
    if zipped > limit:
        raise BuildError(
            f"{what} is {megabytes(zipped)} zipped, over Lambda's {megabytes(limit)} limit for direct upload "
            f"(largest, zipped: {sizes_text(largest_zipped(zip_path))}): {WAYS_OUT}")


def write_checked_zip(staging: Path, out: Path, unzipped_limit: int, zipped_limit: int | None,
                      report: Callable[[str], None] | None = None) -> None:
    """Zip ``staging`` reproducibly to ``out`` within Lambda's quotas, or leave ``out`` untouched.

    ``zipped_limit`` None: the zip goes through S3, where only the unzipped quota applies.
    """
    check_unzipped_size(staging, out.name, unzipped_limit)
    with atomic_output(out) as partial:
        if report:
            report(f"zipping {out.name}")
        write_reproducible_zip(staging, partial)
        if zipped_limit is not None:
            check_zipped_size(partial, out.name, zipped_limit)
