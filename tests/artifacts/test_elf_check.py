"""``lamina check`` on real ELF files: wheels from the index, objects compiled here, in zips and dirs."""

from __future__ import annotations

import shutil
import subprocess
import zipfile
from pathlib import Path

from lamina.artifacts.elf_check import check_path, offenders
from tests.artifacts.build_helpers import error_lines, run_lamina


def test_manylinux2014_wheel_shared_object_loads_on_al2023_and_al2(manylinux_x86_64_so: Path) -> None:
    for os_name in ("al2023", "al2"):
        result = run_lamina("check", str(manylinux_x86_64_so.parent), "--arch", "x86_64", "--os", os_name)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "1 ELF file(s)" in result.stdout and "all load" in result.stdout


def test_object_needing_glibc_2_36_fails_for_al2023_with_a_table_naming_it(new_glibc_so: Path) -> None:
    result = run_lamina("check", str(new_glibc_so.parent), "--os", "al2023")
    assert result.returncode != 0
    assert new_glibc_so.name in result.stdout
    assert "needs GLIBC_2.36, al2023 has 2.34" in result.stdout
    assert len(error_lines(result)) == 1


def test_object_needing_glibcxx_3_4_30_fails_for_al2023(new_glibcxx_so: Path) -> None:
    [report] = check_path(new_glibcxx_so.parent, "x86_64", "al2023")
    assert report.glibcxx is not None and report.glibcxx >= (3, 4, 30)
    assert any(problem.startswith("needs GLIBCXX_3.4.3") for problem in report.problems)


def test_aarch64_object_fails_for_x86_64_and_loads_on_arm64(manylinux_aarch64_so: Path) -> None:
    wrong = run_lamina("check", str(manylinux_aarch64_so.parent), "--arch", "x86_64")
    assert wrong.returncode != 0
    assert "built for aarch64, not x86_64" in wrong.stdout
    right = run_lamina("check", str(manylinux_aarch64_so.parent), "--arch", "arm64")
    assert right.returncode == 0, right.stdout + right.stderr


def test_zip_and_directory_give_the_same_verdicts(tmp_path: Path, manylinux_x86_64_so: Path,
                                                   new_glibc_so: Path) -> None:
    tree = tmp_path / "tree" / "pkg"
    tree.mkdir(parents=True)
    shutil.copy(manylinux_x86_64_so, tree / manylinux_x86_64_so.name)
    shutil.copy(new_glibc_so, tree / new_glibc_so.name)
    (tree / "module.py").write_text("x = 1\n")
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as out:
        for path in sorted(tree.iterdir()):
            out.write(path, f"pkg/{path.name}")
    from_dir = check_path(tmp_path / "tree", "x86_64", "al2023")
    from_zip = check_path(archive, "x86_64", "al2023")
    assert [(r.path, r.problems) for r in from_dir] == [(r.path, r.problems) for r in from_zip]
    assert [r.path for r in offenders(from_zip)] == [f"pkg/{new_glibc_so.name}"]


def test_needs_met_by_a_library_the_bundle_ships_do_not_count(tmp_path: Path, new_glibcxx_so: Path) -> None:
    # auditwheel vendors a newer libstdc++ next to the extension; its versions are then the bundle's own.
    shutil.copy(new_glibcxx_so, tmp_path / "ext.so")
    shutil.copy(Path("/usr/lib/x86_64-linux-gnu/libstdc++.so.6"), tmp_path / "libstdc++.so.6")
    reports = {report.path: report for report in check_path(tmp_path, "x86_64", "al2023")}
    assert reports["ext.so"].glibcxx is None
    assert reports["ext.so"].loads


def test_missing_path_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_lamina("check", str(tmp_path / "nothing-here"))
    assert result.returncode != 0
    assert error_lines(result) == [f"Error: {tmp_path / 'nothing-here'} does not exist: give a function zip, "
                                   "a layer zip or a directory"]


def test_extension_module_for_another_cpython_is_flagged(tmp_path: Path, manylinux_x86_64_so: Path) -> None:
    assert "cpython-312" in manylinux_x86_64_so.name
    shutil.copy(manylinux_x86_64_so, tmp_path / manylinux_x86_64_so.name)
    result = run_lamina("check", str(tmp_path), "--python", "3.11")
    assert result.returncode == 1
    assert "built for CPython 3.12, not 3.11" in result.stdout
    assert run_lamina("check", str(tmp_path), "--python", "3.12").returncode == 0


def test_bundle_python_comes_from_its_bytecode_and_sets_the_default_os(tmp_path: Path,
                                                                         manylinux_x86_64_so: Path) -> None:
    shutil.copy(manylinux_x86_64_so, tmp_path / manylinux_x86_64_so.name)
    (tmp_path / "__pycache__").mkdir()
    (tmp_path / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"")
    result = run_lamina("check", str(tmp_path))
    assert result.returncode == 1
    assert "on al2 x86_64, Python 3.11" in result.stdout + result.stderr  # AL2: the python3.11 runtime's OS
    assert "built for CPython 3.12, not 3.11" in result.stdout


def test_musl_binary_is_flagged(tmp_path: Path) -> None:
    from lamina.artifacts.dependencies import uv_binary

    target = tmp_path / "musl"
    subprocess.run([uv_binary(), "pip", "install", "--target", str(target), "--python-platform",
                    "x86_64-unknown-linux-musl", "--python-version", "3.12", "--only-binary", ":all:",
                    "--no-deps", "markupsafe==3.0.2"], check=True, capture_output=True, timeout=180)
    reports = offenders(check_path(target, "x86_64", "al2023", "3.12"))
    assert reports and all("linked against musl (libc.musl-x86_64.so.1)" in "; ".join(r.problems)
                           for r in reports)
