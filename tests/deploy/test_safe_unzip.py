"""Deployment packages from the network never write outside their directory, and stay within limits."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lamina.local.api.control_plane import unzip
from lamina.local.model import service_errors as errors
from lamina.runtime import error_types

from .zips import lying_zip, make_zip, zip_bomb


def extract(tmp_path: Path, data: bytes, limit: int = 262144000) -> Path:
    dest = tmp_path / "box" / "tree"
    unzip.extract(io.BytesIO(data), dest, limit)
    return dest


def refused(tmp_path: Path, data: bytes, limit: int = 262144000) -> errors.ServiceError:
    with pytest.raises(errors.ServiceError) as caught:
        extract(tmp_path, data, limit)
    assert not (tmp_path / "box" / "tree").exists(), "a refused zip leaves nothing behind"
    outside = [p for p in tmp_path.rglob("*") if "box" not in p.parts and p.name != "victim"]
    assert outside == [], f"files written outside the destination: {outside}"
    return caught.value


def test_regular_zip_unpacks_with_exec_bits_and_reports_size(tmp_path: Path) -> None:
    tree = extract(tmp_path, make_zip({"bootstrap": "#!/bin/sh\n", "pkg/mod.py": "X = 1\n"},
                                      executable=("bootstrap",), links={"pkg/alias.py": "mod.py"}))
    assert (tree / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert (tree / "bootstrap").stat().st_mode & 0o111
    assert (tree / "pkg" / "alias.py").resolve() == (tree / "pkg" / "mod.py").resolve()


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "..\\evil.py", "/etc/evil.py",
                                  "C:/evil.py"])
def test_entry_escaping_the_root_is_invalid_parameter_value(tmp_path: Path, name: str) -> None:
    error = refused(tmp_path, make_zip({"ok.py": "", name: "boom"}))
    assert error.error_type == error_types.INVALID_PARAMETER_VALUE
    assert error.message.startswith("Could not unzip uploaded file.")


@pytest.mark.parametrize("target", ["/etc/passwd", "../../outside", "sub/../../outside"])
def test_symlink_pointing_outside_is_refused(tmp_path: Path, target: str) -> None:
    error = refused(tmp_path, make_zip({"ok.py": ""}, links={"link": target}))
    assert error.error_type == error_types.INVALID_PARAMETER_VALUE


def test_symlink_escaping_through_a_later_link_is_refused(tmp_path: Path) -> None:
    # "m" looks inside the root on its own, but resolves outside once "a/b/l" (→ root) exists
    links = {"m": "a/b/l/../..", "a/b/l": "../.."}
    assert refused(tmp_path, make_zip({"a/b/keep": ""}, links=links)).error_type == \
        error_types.INVALID_PARAMETER_VALUE


def test_entry_written_through_a_symlinked_directory_is_refused(tmp_path: Path) -> None:
    (tmp_path / "victim").mkdir()
    data = make_zip({"dir/evil.py": "boom"}, links={"dir": str(tmp_path / "victim")})
    refused(tmp_path, data)
    assert list((tmp_path / "victim").iterdir()) == []


def test_zip_bomb_is_refused_before_it_fills_the_disk(tmp_path: Path) -> None:
    error = refused(tmp_path, zip_bomb(64 * 1024 * 1024))
    assert error.error_type == error_types.INVALID_PARAMETER_VALUE


def test_unzipped_size_over_the_limit_is_lambdas_error(tmp_path: Path) -> None:
    error = refused(tmp_path, make_zip({"big.bin": b"x" * 4096}), limit=1000)
    assert error.message == "Unzipped size must be smaller than 262144000 bytes"


def test_header_understating_the_size_does_not_beat_the_limit(tmp_path: Path) -> None:
    error = refused(tmp_path, lying_zip(real_size=5000, declared_size=10), limit=1000)
    assert error.error_type == error_types.INVALID_PARAMETER_VALUE


def test_garbage_instead_of_a_zip_is_invalid_parameter_value(tmp_path: Path) -> None:
    error = refused(tmp_path, b"this is not a zip")
    assert error.error_type == error_types.INVALID_PARAMETER_VALUE
