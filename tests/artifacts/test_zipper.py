"""Reproducible zips and atomic output, on real trees in temporary directories."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import pytest

from lamina.artifacts.errors import BuildError
from lamina.artifacts.zipper import atomic_output, write_reproducible_zip


def make_tree(root: Path) -> None:
    (root / "pkg").mkdir(parents=True)
    (root / "app.py").write_text("def handler(event, context):\n    return 1\n")
    (root / "pkg" / "__init__.py").write_text("")
    tool = root / "pkg" / "tool"
    tool.write_text("#!/bin/sh\necho hi\n")
    tool.chmod(0o775)
    (root / "pkg" / "data.bin").write_bytes(bytes(range(256)) * 64)


def test_same_tree_gives_byte_identical_zips_whatever_the_mtimes(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    write_reproducible_zip(tmp_path / "tree", tmp_path / "a.zip")
    for path in (tmp_path / "tree").rglob("*"):
        os.utime(path, (1_700_000_000, 1_700_000_000))
    (tmp_path / "tree" / "pkg" / "__init__.py").chmod(0o600)
    write_reproducible_zip(tmp_path / "tree", tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()


def test_entries_are_sorted_dated_1980_with_0644_or_0755(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    write_reproducible_zip(tmp_path / "tree", tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        infos = archive.infolist()
    assert [info.filename for info in infos] == ["app.py", "pkg/__init__.py", "pkg/data.bin", "pkg/tool"]
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    modes = {info.filename: (info.external_attr >> 16) & 0o777 for info in infos}
    assert modes == {"app.py": 0o644, "pkg/__init__.py": 0o644, "pkg/data.bin": 0o644, "pkg/tool": 0o755}


def test_link_inside_the_tree_is_stored_as_the_file_it_names(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    (tmp_path / "tree" / "alias.py").symlink_to("app.py")
    write_reproducible_zip(tmp_path / "tree", tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as archive:
        assert archive.read("alias.py") == archive.read("app.py")


def test_link_leaving_the_tree_is_refused_with_what_to_do(tmp_path: Path) -> None:
    make_tree(tmp_path / "tree")
    (tmp_path / "secret.txt").write_text("outside")
    (tmp_path / "tree" / "secret.txt").symlink_to(tmp_path / "secret.txt")
    with pytest.raises(BuildError, match=r"secret.txt is a symbolic link to .*outside the bundle: copy"):
        write_reproducible_zip(tmp_path / "tree", tmp_path / "out.zip")


def test_atomic_output_keeps_the_previous_file_when_the_build_fails(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "function.zip"
    out.parent.mkdir()
    out.write_bytes(b"previous")
    with pytest.raises(BuildError), atomic_output(out) as partial:
        partial.write_bytes(b"half")
        raise BuildError("boom")
    assert out.read_bytes() == b"previous"
    assert sorted(path.name for path in out.parent.iterdir()) == ["function.zip"]
