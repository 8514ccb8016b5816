"""lamina's runtime as a Lambda layer, in the two forms Lambda can run it.

Layout (paths as Lambda sees them under ``/opt``)::

    bootstrap                  provided.*: starts ``python -m lamina.runtime "$_HANDLER"``
    lamina                     managed python3.x: the AWS_LAMBDA_EXEC_WRAPPER (managed form only)
    python/lamina/__init__.py  lamina's runtime package, where Python layers are imported from
    python/lamina/runtime/...
    cpython/bin/python3        the relocatable CPython (python-build-standalone form only)
    cpython/lib/python3.X/...

Both scripts put ``$LAMBDA_TASK_ROOT`` and ``python/`` on ``PYTHONPATH``; the CPython form also adds
``python/lib/python3.X/site-packages``, where dependency layers keep their packages.

The runtime package is copied from the installed lamina (``lamina.runtime.__file__``) at build time, so
the layer always carries the runtime of the lamina that built it.

A dependency layer (:func:`build_dependency_layer_zip`) holds a function's requirements instead, in
``python/`` (on ``sys.path`` in every Python runtime and in lamina's bootstraps), installed and checked
by the same rules as a function's bundle: wheels for the target, bytecode for its Python, the ELF and
ABI checks, the quotas.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from pathlib import Path

import lamina
import lamina.runtime
from lamina.artifacts.bundle import add_bytecode, install_dependencies, validate_target
from lamina.artifacts.bytecode import make_bytecode_unchecked, precompile_package
from lamina.artifacts.dependencies import Report
from lamina.artifacts.elf_check import require_loadable
from lamina.artifacts.errors import BuildError
from lamina.artifacts.layer_scripts import BOOTSTRAP_SYSTEM_PYTHON, EXEC_WRAPPER, bootstrap_cpython
from lamina.artifacts.limits import UNZIPPED_LIMIT, ZIPPED_LIMIT, write_checked_zip
from lamina.artifacts.requirements import resolve_requirements
from lamina.artifacts.targets import ARCHITECTURES, PYTHON_VERSIONS, default_os

CPYTHON_DIR = "cpython"
MANAGED_RUNTIMES = [f"python{version}" for version in PYTHON_VERSIONS]
OS_ONLY_RUNTIMES = ["provided.al2023", "provided.al2"]

# Parts of a CPython install that a Lambda function never uses and that would only take layer space.
_PRUNED_STDLIB = ("test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data")
_PRUNED_LIB_GLOBS = ("libtcl*", "libtk*", "tcl*", "tk*", "itcl*", "thread2*", "pkgconfig")
_KEPT_BIN_PREFIX = "python3"


def compatible_runtimes(python_dist: Path | None) -> list[str]:
    """The Lambda runtimes a layer of this form runs on (for ``publish-layer-version``)."""
    return OS_ONLY_RUNTIMES if python_dist is not None else MANAGED_RUNTIMES


def copy_runtime_package(python_dir: Path) -> None:
    """Put ``lamina/__init__.py`` and the whole ``lamina/runtime`` package under ``python_dir``."""
    package = python_dir / "lamina"
    package.mkdir(parents=True)
    shutil.copy2(Path(lamina.__file__), package / "__init__.py")
    shutil.copytree(Path(lamina.runtime.__file__).parent, package / "runtime",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo"))


def write_script(path: Path, text: str) -> None:
    path.write_text(text)
    path.chmod(0o755)


def cpython_version(names: list[str], archive: Path) -> str:
    """Validate a python-build-standalone ``install_only`` member list; return its "3.X" version."""
    hint = ("download a cpython-3.X.Y+DATE-<arch>-unknown-linux-gnu-install_only.tar.gz "
            "from python-build-standalone")
    if any(name.startswith("python/install/") for name in names):
        raise BuildError(f"{archive} is a full python-build-standalone archive, not install_only: {hint}")
    if not names or any(name != "python" and not name.startswith("python/") for name in names):
        raise BuildError(f"{archive} is not a python-build-standalone install_only archive "
                         f"(everything should be under python/): {hint}")
    if "python/bin/python3" not in names:
        raise BuildError(f"{archive} has no python/bin/python3, so it is not a CPython distribution: {hint}")
    versions = sorted({name.split("/")[2][len("python"):] for name in names
                       if name.startswith("python/lib/python3.") and name.endswith("/os.py")
                       and name.count("/") == 3})
    if len(versions) != 1 or versions[0] not in PYTHON_VERSIONS:
        raise BuildError(f"{archive} has no standard library of Python {'/'.join(PYTHON_VERSIONS)}: {hint}")
    return versions[0]


def unpack_python_dist(archive: Path, destination: Path, workdir: Path) -> str:
    """Unpack a python-build-standalone archive's ``python/`` tree to ``destination``; return "3.X".

    ``workdir`` is an empty scratch directory on the same file system as ``destination``.
    """
    if not archive.is_file():
        raise BuildError(f"--python-dist {archive} does not exist: give the path of a downloaded archive")
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            names = [member.name.removeprefix("./").rstrip("/") for member in members]
            version = cpython_version(names, archive)
            for member in members:
                if member.name.startswith("/") or ".." in Path(member.name).parts:
                    raise BuildError(f"{archive} has an unsafe path {member.name}: "
                                     "use the archive as python-build-standalone publishes it")
            if hasattr(tarfile, "data_filter"):
                tar.extractall(workdir, filter="data")
            else:  # Python < 3.11.4, where paths were checked above
                tar.extractall(workdir)
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise BuildError(f"{archive} is not a readable tar archive ({exc}): give a python-build-standalone "
                         "install_only .tar.gz") from exc
    (workdir / "python").rename(destination)
    return version


def prune_cpython(root: Path, version: str) -> None:
    """Drop the parts of the interpreter a function never uses: IDLE, Tk, the test suite, headers, pip."""
    stdlib = root / "lib" / f"python{version}"
    for name in _PRUNED_STDLIB:
        shutil.rmtree(stdlib / name, ignore_errors=True)
    for path in sorted((stdlib / "lib-dynload").glob("_tkinter*")):
        path.unlink()
    for path in sorted((stdlib / "site-packages").glob("pip*")):
        shutil.rmtree(path, ignore_errors=True)
    for pattern in _PRUNED_LIB_GLOBS:
        for path in sorted((root / "lib").glob(pattern)):
            if path.is_dir() and not path.is_symlink():
                shutil.rmtree(path)
            else:
                path.unlink()
    for name in ("include", "share"):
        shutil.rmtree(root / name, ignore_errors=True)
    for path in sorted((root / "bin").iterdir()):
        if not path.name.startswith(_KEPT_BIN_PREFIX) or path.name.endswith("-config"):
            path.unlink()


def collapse_links(root: Path) -> None:
    """Keep one copy of the interpreter and of libpython, since the zip stores links as the files they name.

    python-build-standalone ships ``bin/python3 -> python3.X`` and ``lib/libpython3.X.so ->
    libpython3.X.so.1.0``; stored as files, each would double tens of megabytes. ``bin/python3``
    becomes the real executable (the bootstrap runs that name) and the other links go: unversioned
    ``.so`` names only serve compilers, the loader uses the versioned soname.
    """
    bin_dir, python3 = root / "bin", root / "bin" / "python3"
    if python3.is_symlink():
        target = python3.resolve()
        python3.unlink()
        target.rename(python3)
    for path in sorted(bin_dir.iterdir()):
        if path.is_symlink():
            path.unlink()
    for path in sorted((root / "lib").glob("*.so")):
        if path.is_symlink():
            path.unlink()


def build_layer_zip(out: Path = Path("dist/lamina-layer.zip"), *, arch: str = "x86_64",
                    python_dist: Path | None = None, os_name: str = "al2023", check: bool = True,
                    report: Report | None = None) -> Path:
    """Build lamina's runtime layer at ``out`` and return ``out``.

    With ``python_dist`` (a python-build-standalone install_only archive) the layer carries its own
    CPython for ``provided.al2023``/``provided.al2``; without it, the layer is the exec wrapper for the
    managed ``python3.x`` runtimes (plus a ``bootstrap`` for provided.* where python3 exists).
    ``check`` verifies every ELF file for ``arch`` and ``os_name`` before anything is written.
    """
    if arch not in ARCHITECTURES:
        raise BuildError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHITECTURES)}")
    with tempfile.TemporaryDirectory(prefix="lamina-layer-") as tmp:
        staging = Path(tmp) / "layer"
        staging.mkdir()
        if python_dist is not None:
            if report:
                report(f"unpacking {python_dist.name}")
            version = unpack_python_dist(python_dist, staging / CPYTHON_DIR, Path(tmp) / "unpacked")
            prune_cpython(staging / CPYTHON_DIR, version)
            collapse_links(staging / CPYTHON_DIR)
            make_bytecode_unchecked(staging / CPYTHON_DIR)
            write_script(staging / "bootstrap", bootstrap_cpython(version))
        else:
            write_script(staging / "bootstrap", BOOTSTRAP_SYSTEM_PYTHON)
            write_script(staging / "lamina", EXEC_WRAPPER)
        copy_runtime_package(staging / "python")
        # lamina's own start-up must not pay for compiling it: ship bytecode for the layer's Python
        # (the bundled one's version), or for every Python this machine has (managed runtimes).
        if python_dist is not None:
            bundled = (str(staging / CPYTHON_DIR / "bin" / "python3"),)
            precompile_package(staging / "python" / "lamina", "/opt/python/lamina", (version,), bundled)
        else:
            precompile_package(staging / "python" / "lamina", "/opt/python/lamina")
        if check:
            if report:
                report("checking native files")
            require_loadable(staging, arch, os_name, what="the layer")
        # A layer counts towards the function's 250 MB unzipped too, and is published by direct upload.
        write_checked_zip(staging, out, UNZIPPED_LIMIT, ZIPPED_LIMIT, report)
    return out


def dependency_layer_runtimes(python_version: str) -> list[str]:
    """The runtimes a dependency layer for ``python_version`` suits: its managed runtime, and provided.*."""
    return [f"python{python_version}", *OS_ONLY_RUNTIMES]


def build_dependency_layer_zip(requirements: Path, out: Path = Path("dist/dependencies-layer.zip"), *,
                               arch: str = "x86_64", python_version: str = "3.12", os_name: str | None = None,
                               bytecode: bool = True, report: Report | None = None,
                               warn: Report | None = None, zipped_limit: int | None = ZIPPED_LIMIT) -> Path:
    """Build a layer of ``requirements`` (``python/``) for the target at ``out`` and return ``out``.

    The same rules as :func:`~lamina.artifacts.bundle.build_function_zip`: wheels resolved for the
    target, bytecode for its Python under ``/opt/python``, every native file checked, the quotas.
    """
    validate_target(arch, python_version)
    os_name = os_name or default_os(python_version)
    with tempfile.TemporaryDirectory(prefix="lamina-layer-") as tmp:
        workdir = Path(tmp)
        python_dir = workdir / "layer" / "python"
        python_dir.mkdir(parents=True)
        requirements_file = resolve_requirements(workdir, requirements, workdir)
        if requirements_file is None:
            raise BuildError(f"{requirements} names no dependencies: nothing to put in the layer")
        install_dependencies(requirements_file, python_dir, arch, os_name, python_version, report)
        if bytecode:
            if report:
                report(f"compiling bytecode for Python {python_version}")
            add_bytecode(python_dir, python_version, "/opt/python", warn)
        if report:
            report("checking native files")
        require_loadable(python_dir.parent, arch, os_name, what="the layer", python_version=python_version)
        write_checked_zip(python_dir.parent, out, UNZIPPED_LIMIT, zipped_limit, report)
    return out
