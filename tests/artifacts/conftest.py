"""Real native files for the build tests, made or downloaded once per session.

Wheels come from the package index through pip (``pip download --platform ... --only-binary=:all:``);
shared objects that need a newer glibc or libstdc++ than Lambda's are compiled here with gcc/g++, whose
glibc (2.36 on Debian 12) and libstdc++ (gcc 12) are newer than AL2023's.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.artifacts.build_helpers import symbol_versions

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def wheel_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """markupsafe wheels for manylinux2014 x86_64 and aarch64, downloaded once."""
    directory = tmp_path_factory.mktemp("wheels")
    for cpu in ("x86_64", "aarch64"):
        subprocess.run([sys.executable, "-m", "pip", "download", "--disable-pip-version-check", "--no-deps",
                        "--only-binary=:all:", "--platform", f"manylinux2014_{cpu}", "--implementation", "cp",
                        "--python-version", "3.12", "--dest", str(directory), "markupsafe==3.0.2"],
                       check=True, capture_output=True, timeout=180)
    return directory


def extract_shared_object(wheel_dir: Path, cpu: str, destination: Path) -> Path:
    wheel = next(wheel_dir.glob(f"*{cpu}*.whl"))
    with zipfile.ZipFile(wheel) as archive:
        member = next(name for name in archive.namelist() if name.endswith(".so"))
        target = destination / Path(member).name
        target.write_bytes(archive.read(member))
    return target


@pytest.fixture(scope="session")
def manylinux_x86_64_so(wheel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_shared_object(wheel_dir, "x86_64", tmp_path_factory.mktemp("so-x86_64"))


@pytest.fixture(scope="session")
def manylinux_aarch64_so(wheel_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return extract_shared_object(wheel_dir, "aarch64", tmp_path_factory.mktemp("so-aarch64"))


def compile_shared_object(source: str, name: str, directory: Path, compiler: str) -> Path:
    if shutil.which(compiler) is None:
        pytest.skip(f"{compiler} is not installed")
    suffix = ".cpp" if compiler == "g++" else ".c"
    (directory / f"{name}{suffix}").write_text(source)
    output = directory / f"{name}.so"
    source_path = directory / f"{name}{suffix}"
    subprocess.run([compiler, "-shared", "-fPIC", "-O1", "-o", str(output), str(source_path)],
                   check=True, capture_output=True, timeout=120)
    return output


@pytest.fixture(scope="session")
def new_glibc_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A shared object calling arc4random (added in glibc 2.36), so it provably needs GLIBC_2.36."""
    source = "#include <stdlib.h>\nunsigned lamina_random(void) { return arc4random(); }\n"
    path = compile_shared_object(source, "needs_glibc_2_36", tmp_path_factory.mktemp("glibc"), "gcc")
    if "GLIBC_2.36" not in symbol_versions(path):
        pytest.skip("this machine's glibc is older than 2.36: cannot build a too-new object")
    return path


@pytest.fixture(scope="session")
def new_glibcxx_so(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A C++ object whose std::condition_variable::wait binds to GLIBCXX_3.4.30 (gcc 12's libstdc++)."""
    source = ("#include <condition_variable>\n#include <mutex>\n"
              "void lamina_wait(std::condition_variable& cv, std::mutex& m) "
              "{ std::unique_lock<std::mutex> lock(m); cv.wait(lock); }\n")
    path = compile_shared_object(source, "needs_glibcxx_3_4_30", tmp_path_factory.mktemp("glibcxx"), "g++")
    if "GLIBCXX_3.4.30" not in symbol_versions(path):
        pytest.skip("this machine's libstdc++ is older than gcc 12's")
    return path


@pytest.fixture(scope="session")
def relocatable_python_archive(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """An install_only-shaped archive of the CPython that runs the tests (``sys.base_prefix``).

    No python-build-standalone archive can be downloaded here (only package registries are reachable
    and none ships one), so this repackages the local CPython in the same layout: ``python/bin/python3``,
    ``python/lib/libpython3.X.so``, ``python/lib/python3.X/`` without the test suite, site-packages and
    most bytecode. It is built on this machine, so its glibc needs are this machine's.
    """
    prefix = Path(sys.base_prefix)
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    stdlib = prefix / "lib" / f"python{version}"
    if not (prefix / "bin" / f"python{version}").is_file() or not (stdlib / "os.py").is_file():
        pytest.skip("the test interpreter is not a standard CPython install")
    skipped = {"test", "site-packages", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3",
               "distutils", "pydoc_data", "unittest"}

    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        parts = Path(info.name).parts
        if len(parts) > 3 and parts[:3] == ("python", "lib", f"python{version}"):
            inner = parts[3:]
            if inner[0] in skipped or inner[0].startswith("config-"):
                return None
            if "__pycache__" in inner and len(inner) > 2:  # bytecode of top-level modules only
                return None
        return info

    name = f"cpython-{version}-local-x86_64-unknown-linux-gnu-install_only.tar.gz"
    archive = tmp_path_factory.mktemp("pbs") / name
    with tarfile.open(archive, "w:gz", compresslevel=1) as tar:
        tar.add(prefix / "bin" / f"python{version}", f"python/bin/python{version}")
        link = tarfile.TarInfo("python/bin/python3")
        link.type, link.linkname = tarfile.SYMTYPE, f"python{version}"
        tar.addfile(link)
        for library in sorted((prefix / "lib").glob("libpython*.so*")):
            tar.add(library, f"python/lib/{library.name}")
        tar.add(stdlib, f"python/lib/python{version}", filter=keep)
    yield archive
