"""``lamina build`` end to end: real uv against the package index, real zips, real failures."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import zipfile
from pathlib import Path

import pytest

from lamina.artifacts.bundle import build_function_zip
from lamina.artifacts.dependencies import strip_dependencies
from lamina.artifacts.errors import BuildError
from lamina.artifacts.limits import MB
from tests.artifacts.build_helpers import error_lines, run_lamina

HANDLER = "import markupsafe\n\ndef handler(event, context):\n    return str(markupsafe.escape('<b>'))\n"


def function_dir(root: Path, requirements: str = "markupsafe==3.0.2\n") -> Path:
    code = root / "fn"
    code.mkdir(parents=True)
    (code / "app.py").write_text(HANDLER)
    if requirements:
        (code / "requirements.txt").write_text(requirements)
    return code


def names(zip_path: Path) -> list[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return archive.namelist()


@pytest.mark.parametrize(("arch", "cpu"), [("x86_64", "x86_64"), ("arm64", "aarch64")])
def test_native_dependency_builds_for_each_architecture(tmp_path: Path, arch: str, cpu: str) -> None:
    code = function_dir(tmp_path)
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--arch", arch, "--python", "3.12", "--out", str(out))
    assert result.returncode == 0, result.stderr
    contents = names(out)
    assert "app.py" in contents
    assert f"markupsafe/_speedups.cpython-312-{cpu}-linux-gnu.so" in contents
    assert not [name for name in contents if name.endswith(".pyc") and ".cpython-312." not in name]
    assert run_lamina("check", str(out), "--arch", arch).returncode == 0


def test_two_builds_of_the_same_inputs_are_byte_identical(tmp_path: Path) -> None:
    code = function_dir(tmp_path)
    first = run_lamina("build", "--code", str(code), "--out", str(tmp_path / "one.zip"))
    (code / "app.py").touch()  # a newer mtime must not change the zip
    second = run_lamina("build", "--code", str(code), "--out", str(tmp_path / "two.zip"))
    assert first.returncode == 0 and second.returncode == 0, first.stderr + second.stderr
    assert (tmp_path / "one.zip").read_bytes() == (tmp_path / "two.zip").read_bytes()


def test_pyproject_dependencies_are_installed_when_there_is_no_requirements_file(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    (code / "pyproject.toml").write_text(
        '[project]\nname = "fn"\nversion = "1"\ndependencies = ["markupsafe"]\n')
    result = run_lamina("build", "--code", str(code), "--out", str(tmp_path / "f.zip"))
    assert result.returncode == 0, result.stderr
    assert any(name.startswith("markupsafe/") for name in names(tmp_path / "f.zip"))


def test_output_inside_the_code_directory_is_not_bundled_into_itself(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    for _ in range(2):
        result = run_lamina("build", cwd=code)
        assert result.returncode == 0, result.stderr
    assert names(code / "dist" / "function.zip") == ["__pycache__/app.cpython-312.pyc", "app.py"]


def assert_failed_cleanly(result: subprocess.CompletedProcess[str], out: Path, *fragments: str) -> None:
    """Non-zero exit, exactly one ``Error:`` line holding every fragment, nothing at or beside ``out``."""
    lines = error_lines(result)
    assert result.returncode != 0
    assert len(lines) == 1, result.stderr
    for fragment in fragments:
        assert fragment in lines[0]
    assert not out.exists()
    assert not list(out.parent.glob(".*.tmp")) if out.parent.exists() else True


def test_missing_code_directory_is_a_one_line_error(tmp_path: Path) -> None:
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(tmp_path / "missing"), "--out", str(out))
    assert_failed_cleanly(result, out, "code directory", "does not exist", "--code")


def test_output_path_that_is_a_directory_is_a_one_line_error(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    out = tmp_path / "dist"
    out.mkdir()
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert result.returncode != 0
    assert error_lines(result) == [f"Error: output {out} is a directory: give a file path such as "
                                   f"{out / 'function.zip'}"]
    assert list(out.iterdir()) == []


def test_unknown_requirement_says_it_was_not_found(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="lamina-no-such-project-7f3a9\n")
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert_failed_cleanly(result, out, "lamina-no-such-project-7f3a9 was not found on the package index")


def test_project_without_wheels_says_it_publishes_none_for_lambda(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="docopt==0.6.2\n")  # published as an sdist only
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert_failed_cleanly(result, out, "docopt publishes no wheel for manylinux x86_64, CPython 3.12")


def test_version_without_a_wheel_names_the_versions_that_have_one(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="markupsafe==0.23\n")
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert_failed_cleanly(result, out, "no version of markupsafe==0.23 has a wheel", "3.0.2")


def test_unreachable_package_index_is_reported_as_such_not_as_an_unknown_project(tmp_path: Path) -> None:
    code = function_dir(tmp_path)
    out = tmp_path / "dist" / "function.zip"
    with socket.socket() as held:  # bound, never listening: connections are refused, and no one else gets it
        held.bind(("127.0.0.1", 0))
        closed = f"http://127.0.0.1:{held.getsockname()[1]}/simple"
        result = run_lamina("build", "--code", str(code), "--out", str(out),
                            env={"UV_DEFAULT_INDEX": closed, "UV_HTTP_RETRIES": "0"})
    assert_failed_cleanly(result, out, "the package index could not be reached", "UV_DEFAULT_INDEX")


def test_link_out_of_the_code_directory_is_refused(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    (tmp_path / "credentials").write_text("secret")
    (code / "credentials").symlink_to(tmp_path / "credentials")
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert_failed_cleanly(result, out, "credentials is a symbolic link", "outside the bundle")


def test_native_file_too_new_for_lambda_fails_the_build_and_keeps_the_previous_zip(
        tmp_path: Path, new_glibc_so: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    out = tmp_path / "dist" / "function.zip"
    assert run_lamina("build", "--code", str(code), "--out", str(out)).returncode == 0
    previous = out.read_bytes()
    shutil.copy(new_glibc_so, code / "native.so")
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert result.returncode != 0
    assert "native.so" in result.stderr and "needs GLIBC_2.36" in result.stderr
    assert out.read_bytes() == previous


def test_bundle_over_250_mb_unzipped_names_the_largest_contributors(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    with open(code / "model.bin", "wb") as sparse:  # sparse: no disk or time spent on 260 MB
        sparse.truncate(260 * MB)
    out = tmp_path / "dist" / "function.zip"
    result = run_lamina("build", "--code", str(code), "--out", str(out))
    assert_failed_cleanly(result, out, "over Lambda's 250.0 MiB limit",
                          "largest, unzipped: model.bin 260.0 MiB")


def test_zip_over_the_direct_upload_limit_is_not_written(tmp_path: Path) -> None:
    code = function_dir(tmp_path, requirements="")
    (code / "noise.bin").write_bytes(os.urandom(64 * 1024))
    out = tmp_path / "dist" / "function.zip"
    expected = (r"zipped, over Lambda's .* MiB limit for direct upload "
                r"\(largest, zipped: noise.bin 0.1 MiB.*\): move dependencies to a layer "
                r"\(lamina layer build --requirements FILE\) or upload through S3 "
                r"\(lamina deploy --s3-bucket BUCKET\)")
    with pytest.raises(BuildError, match=expected):
        build_function_zip(code, out, zipped_limit=32 * 1024)
    assert not out.exists()
    assert list(out.parent.iterdir()) == []


def test_stripping_removes_bytecode_scripts_and_package_tests_but_keeps_native_tests(tmp_path: Path) -> None:
    target = tmp_path / "deps"
    for relative in ("pkg/__init__.py", "pkg/__pycache__/x.cpython-312.pyc", "pkg/tests/test_a.py",
                     "pkg/sub/test/test_b.py", "pkg/_native/tests/_helper.so", "bin/tool",
                     "tests/__init__.py", "pkg/testing.py"):
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        (target / relative).write_text("")
    strip_dependencies(target)
    remaining = sorted(path.relative_to(target).as_posix() for path in target.rglob("*") if path.is_file())
    assert remaining == ["pkg/__init__.py", "pkg/_native/tests/_helper.so", "pkg/testing.py",
                         "tests/__init__.py"]
