"""The function bundle: the user's code plus its dependencies as Lambda's platform needs them.

Assembled in a temporary directory (dependencies first, then the code, which wins on a name clash),
given bytecode for the target Python, checked (ELF compatibility, CPython ABI, size quotas) and only
then zipped into place, so a failed build leaves the previous zip, or nothing, at the output path.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from lamina.artifacts import cache
from lamina.artifacts.bytecode import compile_tree, find_interpreter
from lamina.artifacts.dependencies import Report, install_requirements, strip_dependencies
from lamina.artifacts.elf_check import require_loadable
from lamina.artifacts.errors import BuildError
from lamina.artifacts.limits import UNZIPPED_LIMIT, ZIPPED_LIMIT, write_checked_zip
from lamina.artifacts.requirements import found_in, resolve_requirements
from lamina.artifacts.targets import ARCHITECTURES, PYTHON_VERSIONS, default_os
from lamina.artifacts.zipper import atomic_output

TASK_ROOT = "/var/task"  # where Lambda unpacks a function's zip

# Never part of a function: version control, virtual environments, caches of tools.
EXCLUDED_NAMES = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache",
                            ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".DS_Store", ".idea", ".vscode",
                            ".lamina"})  # lamina serve's data directory: deployed code, never part of a zip


def _skipped(directory: str, names: list[str], out: Path) -> set[str]:
    out_resolved = out.resolve()
    skipped = {name for name in names if name in EXCLUDED_NAMES or name.endswith((".pyc", ".pyo"))}
    for name in names:
        candidate = Path(directory, name).resolve()
        if candidate == out_resolved or candidate in out_resolved.parents:
            skipped.add(name)  # e.g. dist/ when the code directory is the project root
    return skipped


def copy_code(code: Path, staging: Path, out: Path) -> None:
    """Copy the function's code, leaving out caches, environments and the build output itself."""
    shutil.copytree(code, staging, symlinks=True, ignore=lambda d, names: _skipped(d, names, out),
                    dirs_exist_ok=True)


def code_files(code: Path, out: Path) -> list[tuple[str, Path]]:
    """The files :func:`copy_code` takes, by their path in the bundle (what a rebuild depends on)."""
    found: list[tuple[str, Path]] = []
    for directory, dirs, files in os.walk(code, followlinks=True):
        skipped = _skipped(directory, [*dirs, *files], out)
        dirs[:] = sorted(name for name in dirs if name not in skipped)
        for name in sorted(files):
            path = Path(directory, name)
            if name not in skipped and path.is_file():
                found.append((path.relative_to(code).as_posix(), path))
    return found


def validate_target(arch: str, python_version: str) -> None:
    if arch not in ARCHITECTURES:
        raise BuildError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHITECTURES)}")
    if python_version not in PYTHON_VERSIONS:
        raise BuildError(f"unsupported Python {python_version!r}: use one of {', '.join(PYTHON_VERSIONS)}")


def add_bytecode(root: Path, python_version: str, install_path: str, warn: Report | None) -> bool:
    """Unchecked-hash bytecode for every module under ``root``, by a Python of the target's version.

    ``/var/task`` and ``/opt`` are read-only on Lambda: without bytecode in the zip each cold start
    compiles every module it imports. Returns whether bytecode was written.
    """
    interpreter = find_interpreter(python_version)
    if interpreter is None:
        if warn:
            warn(f"no Python {python_version} on this machine (searched PATH, pyenv and uv python find): "
                 f"the zip has no bytecode, so every cold start compiles its modules; install Python "
                 f"{python_version} (uv python install {python_version}) or pass --no-bytecode")
        return False
    compile_tree(root, interpreter, install_path)
    return True


def install_dependencies(requirements_file: Path, target: Path, arch: str, os_name: str, python_version: str,
                         report: Report | None) -> None:
    """Install for the target, then drop what Lambda never uses (scripts, caches, package tests)."""
    install_requirements(requirements_file, target, arch, os_name, python_version, report)
    strip_dependencies(target)


def build_function_zip(code: Path = Path("."), out: Path = Path("dist/function.zip"), *,
                       requirements: Path | None = None, arch: str = "x86_64", python_version: str = "3.12",
                       os_name: str | None = None, report: Report | None = None, bytecode: bool = True,
                       warn: Report | None = None, zipped_limit: int | None = ZIPPED_LIMIT,
                       unzipped_limit: int = UNZIPPED_LIMIT) -> Path:
    """Build the function's deployment zip at ``out`` and return ``out``.

    ``os_name`` defaults to the OS of the managed runtime for ``python_version`` (``al2`` up to 3.11,
    ``al2023`` from 3.12). ``bytecode`` writes ``.pyc`` for the target Python when an interpreter of
    that version is found (``warn`` says when none is). ``zipped_limit`` None: the zip will be uploaded
    through S3, where only the unzipped quota applies. Raises ``BuildError`` (one-line message) for any
    input problem; then ``out`` is left as it was.
    """
    validate_target(arch, python_version)
    os_name = os_name or default_os(python_version)
    if not code.exists():
        raise BuildError(f"code directory {code} does not exist: pass --code DIR with your handler's module")
    if not code.is_dir():
        raise BuildError(f"--code {code} is a file, not a directory: pass the directory that holds it")
    with tempfile.TemporaryDirectory(prefix="lamina-build-") as tmp:
        workdir = Path(tmp)
        staging = workdir / "bundle"
        staging.mkdir()
        requirements_file = resolve_requirements(code, requirements, workdir)
        if requirements_file is not None:
            install_dependencies(requirements_file, staging, arch, os_name, python_version, report)
        copy_code(code, staging, out)
        if bytecode:
            if report:
                report(f"compiling bytecode for Python {python_version}")
            add_bytecode(staging, python_version, TASK_ROOT, warn)
        if report:
            report("checking native files")
        require_loadable(staging, arch, os_name, what=f"the bundle for {out.name}",
                         python_version=python_version)
        write_checked_zip(staging, out, unzipped_limit, zipped_limit, report)
    return out


def function_inputs_digest(code: Path, out: Path, *, requirements: Path | None, arch: str,
                           python_version: str, os_name: str | None, bytecode: bool,
                           zipped_limit: int | None) -> str:
    """The digest a rebuild of :func:`build_function_zip` with these arguments depends on."""
    files = code_files(code, out) if code.is_dir() else []
    stated = requirements if requirements is not None else found_in(code)
    if stated is not None and stated.is_file():
        files.append(("\0requirements", stated))
        lock = stated.parent / "uv.lock"
        if lock.is_file():
            files.append(("\0uv.lock", lock))
    settings = {"arch": arch, "python": python_version, "os": os_name or default_os(python_version),
                "bytecode": str(bytecode), "zipped_limit": str(zipped_limit),
                "bytecode_python": str(find_interpreter(python_version) is not None) if bytecode else ""}
    return cache.inputs_digest(settings, files)


def build_function_zip_once(code: Path, out: Path, *, requirements: Path | None = None, arch: str = "x86_64",
                            python_version: str = "3.12", os_name: str | None = None,
                            report: Report | None = None, bytecode: bool = True, warn: Report | None = None,
                            zipped_limit: int | None = ZIPPED_LIMIT,
                            reused: Callable[[str], None] | None = None) -> Path:
    """:func:`build_function_zip`, or the zip an earlier build made from the same inputs.

    ``reused`` is told the digest when the earlier zip is used, so the caller can say nothing was built.
    """
    validate_target(arch, python_version)
    key = function_inputs_digest(code, out, requirements=requirements, arch=arch,
                                 python_version=python_version, os_name=os_name, bytecode=bytecode,
                                 zipped_limit=zipped_limit)
    earlier = cache.cached_zip(key)
    if earlier is not None:
        with atomic_output(out) as partial:
            shutil.copyfile(earlier, partial)
        if reused:
            reused(key)
        return out
    build_function_zip(code, out, requirements=requirements, arch=arch, python_version=python_version,
                       os_name=os_name, report=report, bytecode=bytecode, warn=warn,
                       zipped_limit=zipped_limit)
    cache.keep_zip(key, out)
    return out
