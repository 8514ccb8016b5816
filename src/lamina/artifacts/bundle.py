"""The function bundle: the user's code plus its dependencies as Lambda's platform needs them.

Assembled in a temporary directory (dependencies first, then the code, which wins on a name clash),
checked (ELF compatibility, size quotas) and only then zipped into place, so a failed build leaves the
previous zip, or nothing, at the output path.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from lamina.artifacts.dependencies import (
    Report,
    install_requirements,
    read_pyproject_dependencies,
    strip_dependencies,
)
from lamina.artifacts.elf_check import require_loadable
from lamina.artifacts.errors import BuildError
from lamina.artifacts.limits import UNZIPPED_LIMIT, ZIPPED_LIMIT, write_checked_zip
from lamina.artifacts.targets import ARCHITECTURES, PYTHON_VERSIONS, default_os

# Never part of a function: version control, virtual environments, caches of tools.
EXCLUDED_NAMES = frozenset({".git", ".hg", ".svn", ".venv", "venv", "__pycache__", ".mypy_cache",
                            ".pytest_cache", ".ruff_cache", ".tox", ".nox", ".DS_Store", ".idea", ".vscode",
                            ".lamina"})  # lamina serve's data directory: deployed code, never part of a zip


def resolve_requirements(code: Path, requirements: Path | None, workdir: Path) -> Path | None:
    """The requirements file to install: the one given, else the code's requirements.txt or pyproject.toml.

    A pyproject.toml (given or found) is turned into a requirements file of its
    ``[project].dependencies``; ``None`` means the function has no dependencies.
    """
    if requirements is not None:
        if not requirements.is_file():
            raise BuildError(f"requirements file {requirements} does not exist: fix the --requirements path")
        if requirements.suffix != ".toml":
            return requirements
        pyproject: Path | None = requirements
    elif (code / "requirements.txt").is_file():
        return code / "requirements.txt"
    else:
        pyproject = code / "pyproject.toml" if (code / "pyproject.toml").is_file() else None
    if pyproject is None:
        return None
    dependencies = read_pyproject_dependencies(pyproject)
    if not dependencies:
        return None
    generated = workdir / "requirements-from-pyproject.txt"
    generated.write_text("\n".join(dependencies) + "\n")
    return generated


def copy_code(code: Path, staging: Path, out: Path) -> None:
    """Copy the function's code, leaving out caches, environments and the build output itself."""
    out_resolved = out.resolve()

    def ignore(directory: str, names: list[str]) -> set[str]:
        skipped = {name for name in names if name in EXCLUDED_NAMES or name.endswith((".pyc", ".pyo"))}
        for name in names:
            candidate = Path(directory, name).resolve()
            if candidate == out_resolved or candidate in out_resolved.parents:
                skipped.add(name)  # e.g. dist/ when the code directory is the project root
        return skipped

    shutil.copytree(code, staging, symlinks=True, ignore=ignore, dirs_exist_ok=True)


def validate_target(arch: str, python_version: str) -> None:
    if arch not in ARCHITECTURES:
        raise BuildError(f"unknown architecture {arch!r}: use one of {', '.join(ARCHITECTURES)}")
    if python_version not in PYTHON_VERSIONS:
        raise BuildError(f"unsupported Python {python_version!r}: use one of {', '.join(PYTHON_VERSIONS)}")


def build_function_zip(code: Path = Path("."), out: Path = Path("dist/function.zip"), *,
                       requirements: Path | None = None, arch: str = "x86_64", python_version: str = "3.12",
                       os_name: str | None = None, report: Report | None = None,
                       zipped_limit: int = ZIPPED_LIMIT, unzipped_limit: int = UNZIPPED_LIMIT) -> Path:
    """Build the function's deployment zip at ``out`` and return ``out``.

    ``os_name`` defaults to the OS of the managed runtime for ``python_version`` (``al2`` up to 3.11,
    ``al2023`` from 3.12). Raises ``BuildError`` (one-line message) for any input problem; then ``out``
    is left as it was.
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
            install_requirements(requirements_file, staging, arch, os_name, python_version, report)
            strip_dependencies(staging)
        copy_code(code, staging, out)
        if report:
            report("checking native files")
        require_loadable(staging, arch, os_name, what=f"the bundle for {out.name}")
        write_checked_zip(staging, out, unzipped_limit, zipped_limit, report)
    return out
