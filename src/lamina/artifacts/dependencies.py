"""Dependencies installed for Lambda's platform, not the build machine's.

pip is asked for wheels only (``--only-binary=:all:``), for CPython of the function's version and for
every manylinux tag the target OS can load, into a plain directory (``--target``). A requirement that
fails is explained in one line: the name is unknown, no version matches, or the project publishes no
wheel for Lambda's platform (an sdist would be compiled here, against this machine's glibc).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lamina.artifacts.errors import BuildError
from lamina.artifacts.targets import machine, wheel_platforms

Report = Callable[[str], None]

_NOT_SATISFIED = re.compile(
    r"Could not find a version that satisfies the requirement (\S+) \(from versions: (.*)\)")
# pip's words when it cannot talk to the index; checked first, or every requirement would look unknown.
_UNREACHABLE = ("NewConnectionError", "Failed to establish a new connection", "ConnectTimeoutError",
                "Temporary failure in name resolution", "Max retries exceeded")
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_STATUS = (
    (re.compile(r"^Collecting (\S+)"), "collecting {0}"),
    (re.compile(r"^\s*Downloading (\S+)"), "downloading {0}"),
    (re.compile(r"^\s*Using cached (\S+)"), "cached {0}"),
    (re.compile(r"^Installing collected packages: (.*)"), "installing {0}"),
)


def read_pyproject_dependencies(pyproject: Path) -> list[str]:
    """``[project].dependencies`` of a pyproject.toml: the function's requirements when no file is given."""
    try:
        import tomllib  # type: ignore[import-not-found,unused-ignore]
    except ModuleNotFoundError as exc:  # Python < 3.11
        raise BuildError(f"reading {pyproject} needs Python 3.11+: pass --requirements FILE instead") from exc
    try:
        data = tomllib.loads(pyproject.read_text())
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise BuildError(f"cannot read {pyproject} ({exc}): fix it or pass --requirements FILE") from exc
    dependencies = data.get("project", {}).get("dependencies", [])
    return [str(item) for item in dependencies]


def pip_command(requirements_file: Path, target: Path, arch: str, os_name: str,
                python_version: str) -> list[str]:
    """The pip install that resolves wheels for Lambda instead of for this machine."""
    command = [sys.executable, "-m", "pip", "install", "--target", str(target), "--implementation", "cp",
               "--python-version", python_version, "--only-binary=:all:", "--no-compile",
               "--disable-pip-version-check", "--no-input", "--progress-bar", "off", "--timeout", "60"]
    for platform in wheel_platforms(arch, os_name):
        command += ["--platform", platform]
    return [*command, "-r", str(requirements_file)]


def install_requirements(requirements_file: Path, target: Path, arch: str, os_name: str,
                         python_version: str, report: Report | None = None) -> None:
    """Install the requirements as Lambda's platform needs them into ``target``, reporting progress."""
    command = pip_command(requirements_file, target, arch, os_name, python_version)
    # pip's own --timeout bounds each network wait, so reading its output to the end always ends.
    env = {**os.environ, "PIP_NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    lines: list[str] = []
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if report:
                for pattern, template in _STATUS:
                    match = pattern.match(line)
                    if match:
                        report(template.format(match.group(1)))
    if proc.returncode != 0:
        raise BuildError(explain_pip_failure(lines, arch, python_version))


def explain_pip_failure(lines: list[str], arch: str, python_version: str) -> str:
    """One line saying why pip failed and what to do, from pip's own error lines."""
    platform = f"manylinux {machine(arch)}, CPython {python_version}"
    unreachable = next((line for line in lines if any(sign in line for sign in _UNREACHABLE)), None)
    if unreachable is not None:
        return ("the package index could not be reached (pip: connection failed): check the network, "
                "a proxy, or PIP_INDEX_URL")
    for line in lines:
        match = _NOT_SATISFIED.search(line)
        if not match:
            continue
        requirement, versions = match.group(1), match.group(2).strip()
        if versions and versions != "none":
            return (f"no version of {requirement} has a wheel for {platform} "
                    f"(versions with one: {versions}): change the version in your requirements")
        name_match = _NAME.match(requirement)
        name = name_match.group(0) if name_match else requirement
        if project_exists(name):
            return (f"{name} publishes no wheel for {platform} (pip would compile it against this "
                    "machine's glibc): pick a version or an alternative that ships manylinux wheels")
        return f"{requirement} was not found on the package index: check its name in your requirements"
    errors = [line.removeprefix("ERROR: ") for line in lines if line.startswith("ERROR:")]
    detail = errors[0] if errors else (lines[-1] if lines else "no output")
    return f"pip could not install the requirements ({detail}): fix the requirements and build again"


def project_exists(name: str) -> bool:
    """Whether the index knows ``name`` at all, whatever files it publishes."""
    result = subprocess.run([sys.executable, "-m", "pip", "index", "versions", name,
                             "--disable-pip-version-check", "--no-input", "--timeout", "30"],
                            capture_output=True, text=True, timeout=120)
    return result.returncode == 0


def strip_dependencies(target: Path) -> None:
    """Remove what Lambda never uses from installed dependencies: bytecode, scripts, their own tests.

    ``__pycache__`` would be for this machine's Python and timestamps the zip resets; ``bin/`` holds
    console scripts whose shebang names this machine's interpreter; a package's ``tests``/``test``
    directories are dropped only below the top level and only when they hold no native code (which
    another module might load).
    """
    shutil.rmtree(target / "bin", ignore_errors=True)
    for path in sorted(target.rglob("*"), key=lambda item: len(item.parts), reverse=True):
        if not path.exists() or path.is_symlink():
            continue
        if path.is_dir() and path.name == "__pycache__":
            shutil.rmtree(path)
        elif path.is_file() and path.suffix in (".pyc", ".pyo"):
            path.unlink()
    for path in sorted(target.glob("*/**/test*")):
        if (path.is_dir() and not path.is_symlink() and path.name in ("tests", "test")
                and not any(item.suffix == ".so" or ".so." in item.name for item in path.rglob("*"))):
            shutil.rmtree(path, ignore_errors=True)
