"""Which requirements a function (or a dependency layer) installs, whatever file states them.

A lock file is honoured as it is: ``uv.lock`` is exported by uv (``uv export --frozen``, with its hashes),
``pylock.toml`` (PEP 751) and a ``requirements.txt`` with ``--hash`` lines go to uv unchanged, which
checks the hashes. A ``pyproject.toml`` without a ``uv.lock`` beside it gives its
``[project].dependencies``.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

from lamina.artifacts.dependencies import read_pyproject_dependencies, uv_binary
from lamina.artifacts.errors import BuildError


def is_pylock(path: Path) -> bool:
    """PEP 751's names: ``pylock.toml`` or ``pylock.NAME.toml``."""
    return path.name == "pylock.toml" or (path.name.startswith("pylock.") and path.suffix == ".toml")


def found_in(code: Path) -> Path | None:
    """The requirements a code directory states, most exact first: a lock file, then the rest."""
    if (code / "uv.lock").is_file() and (code / "pyproject.toml").is_file():
        return code / "uv.lock"
    for name in ("pylock.toml", "requirements.txt", "pyproject.toml"):
        if (code / name).is_file():
            return code / name
    return None


def resolve_requirements(code: Path, requirements: Path | None, workdir: Path) -> Path | None:
    """The file to hand uv (``-r``): the one given, else the code's own; ``None``: no dependencies."""
    if requirements is not None and not requirements.is_file():
        raise BuildError(f"requirements file {requirements} does not exist: fix the --requirements path")
    source = requirements if requirements is not None else found_in(code)
    if source is None:
        return None
    locked = source.name == "pyproject.toml" and (source.parent / "uv.lock").is_file()
    if source.name == "uv.lock" or locked:
        return export_uv_lock(source.parent, workdir)
    if source.suffix != ".toml" or is_pylock(source):
        return source
    dependencies = read_pyproject_dependencies(source)
    if not dependencies:
        return None
    generated = workdir / "requirements-from-pyproject.txt"
    generated.write_text("\n".join(dependencies) + "\n")
    return generated


def export_uv_lock(project: Path, workdir: Path) -> Path | None:
    """The locked dependencies of a uv project (no dev groups, not the project itself), with hashes."""
    exported = workdir / "requirements-from-uv-lock.txt"
    result = subprocess.run([uv_binary(), "export", "--frozen", "--no-dev", "--no-emit-project",
                             "--no-header", "--format", "requirements.txt", "--color", "never",
                             "--project", str(project), "-o", str(exported)],
                            capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        detail = next((line for line in result.stderr.splitlines() if line.startswith("error:")),
                      result.stderr.strip()[-200:])
        raise BuildError(f"cannot read {project / 'uv.lock'} ({detail}): run uv lock, then build again")
    lines = exported.read_text().splitlines()
    if not any(line.strip() and not line.startswith(("#", " ")) for line in lines):
        return None
    return exported
