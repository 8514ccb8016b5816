"""Lambda's size quotas, checked during the build so that an oversized bundle fails here, not at upload.

Quotas (Lambda docs, gettingstarted-limits): 50 MB zipped for a direct upload, 250 MB unzipped for the
function and all its layers together. When a bundle is over, the error names what takes the room: the
top-level packages of the bundle by unzipped size, which is what a user can drop or move to a layer.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from typing import Callable

from lamina.artifacts.errors import BuildError
from lamina.artifacts.zipper import atomic_output, tree_files, write_reproducible_zip
from lamina.runtime.protocol import MAX_UNZIPPED_CODE, MAX_ZIPPED_DIRECT_UPLOAD

MB = 1024 * 1024
ZIPPED_LIMIT = MAX_ZIPPED_DIRECT_UPLOAD
UNZIPPED_LIMIT = MAX_UNZIPPED_CODE


def megabytes(size: int) -> str:
    return f"{size / MB:.1f} MB"


def largest_contributors(root: Path, count: int = 3) -> list[tuple[str, int]]:
    """The top-level entries of a tree (a package with its ``.dist-info``) by unzipped size."""
    sizes: dict[str, int] = defaultdict(int)
    for arcname, path in tree_files(root):
        top = arcname.split("/", 1)[0]
        if top.endswith((".dist-info", ".data")):
            top = top.split("-", 1)[0].lower()
        sizes[top] += path.stat().st_size
    return sorted(sizes.items(), key=lambda item: (-item[1], item[0]))[:count]


def check_unzipped_size(root: Path, what: str = "the bundle", limit: int = UNZIPPED_LIMIT) -> None:
    """Checked before zipping, so an oversized tree fails without the cost of compressing it."""
    unzipped = sum(path.stat().st_size for _, path in tree_files(root))
    if unzipped > limit:
        raise BuildError(
            f"{what} is {megabytes(unzipped)} unzipped, over Lambda's {megabytes(limit)} limit "
            f"(largest: {contributors_text(root)}): drop dependencies you do not import, "
            "or ship a container image")


def check_zipped_size(root: Path, zip_path: Path, what: str = "the bundle",
                      limit: int = ZIPPED_LIMIT) -> None:
    """Checked on the finished zip, before it is renamed into place."""
    zipped = zip_path.stat().st_size
    if zipped > limit:
        raise BuildError(
            f"{what} is {megabytes(zipped)} zipped, over Lambda's {megabytes(limit)} limit for direct upload "
            f"(largest: {contributors_text(root)}): move dependencies to a layer "
            "or upload the zip through S3")


def contributors_text(root: Path) -> str:
    return ", ".join(f"{name} {megabytes(size)}" for name, size in largest_contributors(root))


def write_checked_zip(staging: Path, out: Path, unzipped_limit: int, zipped_limit: int,
                      report: Callable[[str], None] | None = None) -> None:
    """Zip ``staging`` reproducibly to ``out`` within Lambda's quotas, or leave ``out`` untouched."""
    check_unzipped_size(staging, out.name, unzipped_limit)
    with atomic_output(out) as partial:
        if report:
            report(f"writing {out}")
        write_reproducible_zip(staging, partial)
        check_zipped_size(staging, partial, out.name, zipped_limit)
