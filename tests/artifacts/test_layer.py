"""``lamina layer build``: the documented layout, reproducible bytes, and a bootstrap that really runs a
function under AWS's Runtime Interface Emulator from wherever the layer is unpacked."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import pytest

import lamina.runtime
from lamina.artifacts.layer import build_layer_zip
from tests.artifacts.build_helpers import error_lines, run_lamina, symbol_versions

HANDLER = ("import sys, lamina.runtime\n"
           "try:\n"
           "    from layerdep import VALUE\n"
           "except ImportError:\n"
           "    VALUE = None\n\n"
           "def handler(event, context):\n"
           "    return {'event': event, 'executable': sys.executable, 'prefix': sys.prefix,\n"
           "            'runtime': lamina.runtime.__file__, 'dependency': VALUE}\n")

Start = Callable[..., object]


def unzip(zip_path: Path, destination: Path) -> Path:
    """Unpack like Lambda does, keeping the Unix modes (zipfile alone drops them)."""
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            path = Path(archive.extract(info, destination))
            mode = (info.external_attr >> 16) & 0o777
            if mode:
                path.chmod(mode)
    return destination


def function_code(tmp_path: Path) -> Path:
    task = tmp_path / "task"
    task.mkdir()
    (task / "app.py").write_text(HANDLER)
    return task


def invoke_through(emulator_factory: Start, command: list[str], task: Path, path_env: str) -> dict[str, str]:
    env = {"_HANDLER": "app.handler", "LAMBDA_TASK_ROOT": str(task), "PATH": path_env}
    emulator = emulator_factory(command, task, env)
    result = emulator.invoke(b'{"n": 1}')  # type: ignore[attr-defined]
    assert result.status == 200, emulator.logs()  # type: ignore[attr-defined]
    body: dict[str, str] = json.loads(result.body)
    assert body["event"] == {"n": 1}, body
    return body


def python_without_lamina(tmp_path: Path) -> Path:
    """A PATH directory whose python3 is the base interpreter, which has no lamina installed."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    base = Path(sys.base_prefix) / "bin" / f"python{sys.version_info.major}.{sys.version_info.minor}"
    (bin_dir / "python3").symlink_to(base)
    check = subprocess.run([str(bin_dir / "python3"), "-c", "import lamina"], capture_output=True)
    if check.returncode == 0:
        pytest.skip("the base interpreter has lamina installed, so the layer's copy could not be told apart")
    return bin_dir


@pytest.fixture(scope="module")
def managed_layer(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("layer") / "lamina-layer.zip"
    result = run_lamina("layer", "build", "--out", str(out))
    assert result.returncode == 0, result.stderr
    return out


def test_managed_layer_has_the_documented_layout(managed_layer: Path) -> None:
    with zipfile.ZipFile(managed_layer) as archive:
        modes = {info.filename: stat.S_IMODE(info.external_attr >> 16) for info in archive.infolist()}
    assert modes["bootstrap"] == 0o755
    assert modes["lamina"] == 0o755
    assert modes["python/lamina/__init__.py"] == 0o644
    assert "python/lamina/runtime/__main__.py" in modes
    # Bytecode only for lamina's own package, unchecked-hash (valid whatever the 1980 zip dates),
    # at least for the Python that built the layer.
    pycs = [name for name in modes if name.endswith(".pyc")]
    assert all(name.startswith("python/lamina/") and "/__pycache__/" in name for name in pycs)
    tag = sys.implementation.cache_tag
    assert f"python/lamina/runtime/__pycache__/loop.{tag}.pyc" in pycs
    with zipfile.ZipFile(managed_layer) as archive:
        header = archive.read(f"python/lamina/runtime/__pycache__/loop.{tag}.pyc")[:16]
    assert int.from_bytes(header[4:8], "little") == 0b01
    assert {name.split("/")[0] for name in modes} == {"bootstrap", "lamina", "python"}
    runtime_files = {path.name for path in Path(lamina.runtime.__file__).parent.glob("*.py")}
    assert runtime_files <= {Path(name).name for name in modes if name.startswith("python/lamina/runtime/")}


def test_layer_builds_are_byte_identical(managed_layer: Path, tmp_path: Path) -> None:
    again = run_lamina("layer", "build", "--out", str(tmp_path / "again.zip"))
    assert again.returncode == 0, again.stderr
    assert (tmp_path / "again.zip").read_bytes() == managed_layer.read_bytes()


def test_layer_bootstrap_runs_a_function_under_rie_from_any_directory(
        managed_layer: Path, tmp_path: Path, emulator_factory: Start) -> None:
    opt = unzip(managed_layer, tmp_path / "somewhere" / "opt")
    task = function_code(tmp_path)
    bin_dir = python_without_lamina(tmp_path)
    body = invoke_through(emulator_factory, [str(opt / "bootstrap")], task, f"{bin_dir}:/usr/bin:/bin")
    assert body["runtime"] == str(opt / "python" / "lamina" / "runtime" / "__init__.py")


def test_exec_wrapper_keeps_the_managed_interpreter_and_replaces_the_runtime_client(
        managed_layer: Path, tmp_path: Path, emulator_factory: Start) -> None:
    opt = unzip(managed_layer, tmp_path / "opt")
    task = function_code(tmp_path)
    interpreter = python_without_lamina(tmp_path) / "python3"
    # What Lambda runs when AWS_LAMBDA_EXEC_WRAPPER=/opt/lamina on a python3.x runtime.
    command = [str(opt / "lamina"), str(interpreter), "/var/runtime/bootstrap.py"]
    body = invoke_through(emulator_factory, command, task, "/usr/bin:/bin")
    assert body["executable"] == str(interpreter)
    assert body["runtime"] == str(opt / "python" / "lamina" / "runtime" / "__init__.py")


def test_bootstrap_without_python3_says_to_use_the_python_dist_form(managed_layer: Path,
                                                                     tmp_path: Path) -> None:
    opt = unzip(managed_layer, tmp_path / "opt")
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    result = subprocess.run(["/bin/sh", str(opt / "bootstrap")], env={"PATH": str(empty)},
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 127
    assert "no python3 on this runtime: use the layer built with --python-dist" in result.stderr


# python-build-standalone form ------------------------------------------------------------------------

def write_tar(path: Path, members: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tar.addfile(info, io.BytesIO(data))
    return path


MINIMAL_PBS = {"python/bin/python3": b"#!/bin/sh\n", "python/lib/python3.12/os.py": b"",
               "python/lib/python3.12/__pycache__/os.cpython-312.pyc": b""}


def test_python_dist_layer_has_the_documented_layout(tmp_path: Path) -> None:
    # A stand-in archive with the install_only shape (not a real interpreter) to check the layout only.
    archive = write_tar(tmp_path / "cpython-3.12-install_only.tar.gz", MINIMAL_PBS)
    out = tmp_path / "layer.zip"
    result = run_lamina("layer", "build", "--python-dist", str(archive), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "--compatible-runtimes provided.al2023 provided.al2" in result.stdout
    with zipfile.ZipFile(out) as archive_zip:
        names = set(archive_zip.namelist())
        bootstrap = archive_zip.read("bootstrap").decode()
    assert {"bootstrap", "cpython/bin/python3", "cpython/lib/python3.12/os.py",
            "python/lamina/__init__.py", "python/lamina/runtime/__main__.py"} <= names
    assert "lamina" not in names  # exec wrappers do not run on provided.* runtimes
    assert '"$here/cpython/bin/python3" -m lamina.runtime' in bootstrap
    assert "$here/python/lib/python3.12/site-packages:$here/python" in bootstrap


def test_python_dist_for_another_architecture_is_refused(tmp_path: Path, manylinux_aarch64_so: Path) -> None:
    archive = write_tar(tmp_path / "cpython-3.12-aarch64-install_only.tar.gz",
                        {**MINIMAL_PBS, "python/bin/python3": manylinux_aarch64_so.read_bytes()})
    out = tmp_path / "layer.zip"
    result = run_lamina("layer", "build", "--arch", "x86_64", "--python-dist", str(archive),
                        "--out", str(out))
    assert result.returncode != 0
    assert "cpython/bin/python3" in result.stderr and "built for aarch64, not x86_64" in result.stderr
    assert not out.exists()


@pytest.mark.parametrize(("kind", "expected"), [
    ("zip", "is not a readable tar archive"),
    ("other-layout", "is not a python-build-standalone install_only archive"),
    ("full-archive", "is a full python-build-standalone archive, not install_only"),
    ("no-interpreter", "has no python/bin/python3"),
    ("no-stdlib", "has no standard library"),
    ("missing", "does not exist"),
])
def test_archive_that_is_not_a_python_build_standalone_distribution_is_refused(
        tmp_path: Path, kind: str, expected: str) -> None:
    archive = tmp_path / "dist.tar.gz"
    if kind == "zip":
        with zipfile.ZipFile(archive, "w") as bad:
            bad.writestr("python/bin/python3", "")
    elif kind == "other-layout":
        write_tar(archive, {"node/bin/node": b"", **MINIMAL_PBS})
    elif kind == "full-archive":
        write_tar(archive, {"python/PYTHON.json": b"{}", "python/install/bin/python3": b""})
    elif kind == "no-interpreter":
        write_tar(archive, {"python/lib/python3.12/os.py": b""})
    elif kind == "no-stdlib":
        write_tar(archive, {"python/bin/python3": b""})
    out = tmp_path / "dist" / "lamina-layer.zip"
    result = run_lamina("layer", "build", "--python-dist", str(archive), "--out", str(out))
    assert result.returncode != 0
    [line] = error_lines(result)
    assert expected in line
    assert not out.exists()


def test_layer_with_an_interpreter_built_against_a_newer_glibc_is_refused(
        relocatable_python_archive: Path, tmp_path: Path) -> None:
    libraries = sorted(Path(sys.base_prefix, "lib").glob("libpython*.so*"))
    if not libraries:
        pytest.skip("this machine's CPython has no shared libpython to check")
    needs = symbol_versions(libraries[0])
    if "GLIBC_2.35" not in needs and "GLIBC_2.36" not in needs:
        pytest.skip("this machine's CPython loads on AL2023, so it cannot show a refusal")
    out = tmp_path / "layer.zip"
    result = run_lamina("layer", "build", "--python-dist", str(relocatable_python_archive), "--out", str(out))
    assert result.returncode != 0
    assert "libpython" in result.stderr and "will not load on al2023 x86_64" in result.stderr
    assert not out.exists()


def run_python_dist_layer(archive: Path, tmp_path: Path, emulator_factory: Start, check: bool) -> None:
    out = build_layer_zip(tmp_path / "layer.zip", python_dist=archive, check=check)
    opt = unzip(out, tmp_path / "unpacked" / "opt")
    task = function_code(tmp_path)
    # Another layer's package, where dependency layers put them: found through the bootstrap's paths.
    [stdlib] = (opt / "cpython" / "lib").glob("python3.*")
    site_packages = opt / "python" / "lib" / stdlib.name / "site-packages"
    site_packages.mkdir(parents=True)
    (site_packages / "layerdep.py").write_text("VALUE = 'from a dependency layer'\n")
    # PATH keeps the system's python3: the function must still run on the layer's own interpreter.
    body = invoke_through(emulator_factory, [str(opt / "bootstrap")], task, "/usr/bin:/bin")
    assert body["executable"].startswith(str(opt / "cpython" / "bin"))
    assert body["prefix"] == str(opt / "cpython")
    assert body["runtime"] == str(opt / "python" / "lamina" / "runtime" / "__init__.py")
    assert body["dependency"] == "from a dependency layer"


def test_python_dist_layer_runs_a_function_on_its_own_relocated_interpreter_under_rie(
        relocatable_python_archive: Path, tmp_path: Path, emulator_factory: Start) -> None:
    # This machine's CPython repackaged as install_only (no real python-build-standalone archive can be
    # downloaded here). It needs this machine's glibc, so the AL2023 check is off for this run only.
    run_python_dist_layer(relocatable_python_archive, tmp_path, emulator_factory, check=False)


def test_python_dist_layer_from_a_real_python_build_standalone_archive_runs_under_rie(
        tmp_path: Path, emulator_factory: Start) -> None:
    archive = os.environ.get("LAMINA_PBS_ARCHIVE")
    if not archive or not Path(archive).is_file():
        pytest.skip("set LAMINA_PBS_ARCHIVE to a python-build-standalone x86_64 install_only .tar.gz")
    run_python_dist_layer(Path(archive), tmp_path, emulator_factory, check=True)


def test_stdlib_bytecode_in_the_layer_stays_valid_with_1980_timestamps(
        relocatable_python_archive: Path, tmp_path: Path) -> None:
    out = build_layer_zip(tmp_path / "layer.zip", python_dist=relocatable_python_archive, check=False)
    with zipfile.ZipFile(out) as archive:
        pycs = [name for name in archive.namelist() if name.endswith(".pyc")]
        flags = {int.from_bytes(archive.read(name)[4:8], "little") for name in pycs}
    assert pycs
    assert flags == {0b01}  # PEP 552 unchecked hash: never stale, whatever the file's mtime


def test_interpreter_and_libpython_links_are_stored_once(relocatable_python_archive: Path,
                                                         tmp_path: Path) -> None:
    out = build_layer_zip(tmp_path / "layer.zip", python_dist=relocatable_python_archive, check=False)
    with zipfile.ZipFile(out) as archive:
        names = set(archive.namelist())
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    assert sorted(name for name in names if name.startswith("cpython/bin/")) == ["cpython/bin/python3"]
    assert f"cpython/lib/libpython{version}.so.1.0" in names
    assert f"cpython/lib/libpython{version}.so" not in names


# lamina's local Lambda ---------------------------------------------------------------------------

def invoke_locally(bootstrap: Path, task: Path, path_env: str) -> dict[str, str]:
    """One invocation through ``lamina invoke`` (the local Lambda) with the layer's bootstrap."""
    result = run_lamina("invoke", "app.handler", "--code", str(task), "--bootstrap", str(bootstrap),
                        "--event", '{"n": 1}', "--env", f"PATH={path_env}", timeout=120)
    assert result.returncode == 0, result.stderr
    body: dict[str, str] = json.loads(result.stdout)
    assert body["event"] == {"n": 1}, body
    return body


def test_layer_bootstrap_runs_a_function_under_lamina_local_lambda(managed_layer: Path,
                                                                   tmp_path: Path) -> None:
    opt = unzip(managed_layer, tmp_path / "opt")
    task = function_code(tmp_path)
    bin_dir = python_without_lamina(tmp_path)
    body = invoke_locally(opt / "bootstrap", task, f"{bin_dir}:/usr/bin:/bin")
    assert body["runtime"] == str(opt / "python" / "lamina" / "runtime" / "__init__.py")


def test_python_dist_layer_runs_a_function_under_lamina_local_lambda(
        relocatable_python_archive: Path, tmp_path: Path) -> None:
    out = build_layer_zip(tmp_path / "layer.zip", python_dist=relocatable_python_archive, check=False)
    opt = unzip(out, tmp_path / "opt")
    body = invoke_locally(opt / "bootstrap", function_code(tmp_path), "/usr/bin:/bin")
    assert body["prefix"] == str(opt / "cpython")
    assert body["runtime"] == str(opt / "python" / "lamina" / "runtime" / "__init__.py")


def test_dependency_layer_has_python_layout_target_wheels_and_bytecode(tmp_path: Path) -> None:
    requirements = tmp_path / "requirements.txt"
    requirements.write_text('six\ntomli; platform_machine == "aarch64"\n'
                            'certifi; platform_machine == "x86_64"\n')
    out = tmp_path / "deps.zip"
    result = run_lamina("layer", "build", "--requirements", str(requirements), "--arch", "arm64", "--python",
                        "3.12", "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "--compatible-runtimes python3.12 provided.al2023 provided.al2" in result.stdout
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
    assert all(name.startswith("python/") for name in names)
    assert "python/six.py" in names and "python/tomli/__init__.py" in names
    assert not [name for name in names if name.startswith("python/certifi")]
    if any(name.endswith(".pyc") for name in names):
        assert "python/__pycache__/six.cpython-312.pyc" in names
