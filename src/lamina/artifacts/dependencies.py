"""Dependencies installed for Lambda's platform, not the build machine's.

uv resolves and installs them for the target (``--python-platform``, ``--python-version``, wheels only)
into a plain directory (``--target``): environment markers are evaluated for the target, ``Requires-Python``
is checked against the target's version, and uv's cache is shared by every build. The one ceiling uv
cannot name, AL2's glibc 2.26, is approached from below (``manylinux_2_17``) and, when only a
``manylinux_2_24``-``2_26`` wheel would do, reached by pip with the exact tags over uv's resolution.
A requirement that fails is explained in one line from the index's own file list (:mod:`.index`).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from lamina.artifacts.bytecode import find_interpreter
from lamina.artifacts.errors import BuildError
from lamina.artifacts.index import IndexUnreachable, project_files, wheel_fit
from lamina.artifacts.targets import (
    machine,
    operating_system,
    uv_platform,
    uv_platform_is_exact,
    wheel_platforms,
)

Report = Callable[[str], None]

# uv's words when it cannot talk to the index; checked first, or every requirement would look unknown.
_UNREACHABLE = ("Failed to fetch", "tcp connect error", "dns error", "Connection refused", "timed out",
                "NewConnectionError", "Failed to establish a new connection", "Max retries exceeded")
_NOT_FOUND = re.compile(r"\b([A-Za-z0-9][A-Za-z0-9._-]*) was not found in the package registry")
_NO_WHEELS = re.compile(
    r"(?:all versions of |only )?\b([A-Za-z0-9][A-Za-z0-9._-]*)((?:(?:[<>=!~]=?|===)[^\s,]+,?)*) "
    r"(?:has|have) no usable wheels")
_PIP_NOT_SATISFIED = re.compile(r"Could not find a version that satisfies the requirement (\S+)")
_STATUS = (
    (re.compile(r"^Resolved (\d+) packages?"), "resolved {0} packages, downloading"),
    (re.compile(r"^Prepared (\d+) packages?"), "installing {0} packages"),
    (re.compile(r"^Installed (\d+) packages?"), "installed {0} packages"),
    (re.compile(r"^ \+ (\S+)"), "installed {0}"),
    (re.compile(r"^Collecting (\S+)"), "collecting {0}"),  # pip, in the AL2 fallback
)
_SPLIT_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(.*)$")


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


def uv_binary() -> str:
    """The uv executable lamina depends on (the ``uv`` package's), else one on PATH."""
    try:
        from uv import find_uv_bin

        return str(find_uv_bin())
    except (ImportError, FileNotFoundError):
        found = shutil.which("uv")
        if found is None:
            raise BuildError("uv is not installed in lamina's environment: pip install 'uv>=0.13' "
                             "(lamina builds with it)") from None
        return found


def uv_install_command(requirements_file: Path, target: Path, arch: str, os_name: str,
                       python_version: str) -> list[str]:
    """The uv install that resolves wheels for Lambda instead of for this machine.

    uv checks a lock file's ``requires-python`` against the interpreter it runs for, so one of the
    target's version is used when this machine has it (the resolution is the target's either way).
    """
    interpreter = find_interpreter(python_version) or sys.executable
    return [uv_binary(), "pip", "install", "--target", str(target), "--python", interpreter,
            "--python-platform", uv_platform(arch, os_name), "--python-version", python_version,
            "--only-binary", ":all:", "--no-compile", "--color", "never", "-r", str(requirements_file)]


def _run(command: list[str], report: Report | None,
         env: dict[str, str] | None = None) -> tuple[int, list[str]]:
    """Run an installer, feeding its status lines to ``report``; return its status and output lines."""
    lines: list[str] = []
    full_env = {**os.environ, "NO_COLOR": "1", "PYTHONUNBUFFERED": "1", **(env or {})}
    # uv and pip bound each network wait themselves, so reading their output to the end always ends.
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=full_env) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.append(line.rstrip())
            if report:
                for pattern, template in _STATUS:
                    match = pattern.match(line)
                    if match:
                        report(template.format(match.group(1)))
    return proc.returncode, lines


def install_requirements(requirements_file: Path, target: Path, arch: str, os_name: str,
                         python_version: str, report: Report | None = None) -> None:
    """Install the requirements as Lambda's platform needs them into ``target``, reporting progress."""
    if report:
        report(f"resolving for {uv_platform(arch, os_name)}, CPython {python_version}")
    status, lines = _run(uv_install_command(requirements_file, target, arch, os_name, python_version), report)
    if status == 0:
        (target / ".lock").unlink(missing_ok=True)  # uv's lock of the target directory
        return
    failure = explain_failure(lines, arch, os_name, python_version)
    if failure.exact_tags_would_load and not uv_platform_is_exact(os_name):
        install_with_exact_tags(requirements_file, target, arch, os_name, python_version, report)
        return
    raise BuildError(failure.message)


class Failure:
    """Why an install failed (one line), and whether pip with the OS's exact tags would succeed."""

    def __init__(self, message: str, exact_tags_would_load: bool = False) -> None:
        self.message = message
        self.exact_tags_would_load = exact_tags_would_load


def explain_failure(lines: list[str], arch: str, os_name: str, python_version: str) -> Failure:
    """One line saying why uv (or pip) failed and what to do, from its output and the index."""
    text = "\n".join(lines)
    platform = f"manylinux {machine(arch)}, CPython {python_version}"
    not_found = _NOT_FOUND.search(text)
    no_wheels = _NO_WHEELS.search(text) or _PIP_NOT_SATISFIED.search(text)
    if not_found is None and no_wheels is None and any(sign in text for sign in _UNREACHABLE):
        return Failure("the package index could not be reached (connection failed): check the network, "
                       "a proxy, or UV_DEFAULT_INDEX")
    if not_found is not None:
        return Failure(f"{not_found.group(1)} was not found on the package index: check its name in your "
                       "requirements")
    if no_wheels is not None:
        split = _SPLIT_NAME.match(no_wheels.group(1) + (no_wheels.group(2) if no_wheels.re is _NO_WHEELS
                                                       else ""))
        assert split is not None
        return explain_no_wheel(split.group(1), split.group(2), arch, os_name, python_version)
    if "hash" in text.lower() and "mismatch" in text.lower():
        detail = next((line for line in lines if "ash" in line), lines[-1])
        return Failure(f"a downloaded file does not match the hash in your lock file ({detail.strip()}): "
                       "update the lock file")
    errors = [line.removeprefix("error: ").removeprefix("ERROR: ") for line in lines
              if line.startswith(("error:", "ERROR:"))]
    detail = errors[0] if errors else (lines[-1] if lines else "no output")
    causes = [line.strip().removeprefix("cause: ") for line in lines if line.strip().startswith("cause:")]
    if causes:
        detail = f"{detail}: {causes[0]}"
    return Failure(f"the requirements could not be installed for {platform} ({detail}): fix the "
                   "requirement named there and build again")


def explain_no_wheel(name: str, specifier: str, arch: str, os_name: str, python_version: str) -> Failure:
    """Why ``name`` has no wheel for the target: none at all, not this version, or a newer glibc."""
    platform = f"manylinux {machine(arch)}, CPython {python_version}"
    requirement = f"{name}{specifier}"
    try:
        files = project_files(name)
    except IndexUnreachable:
        return Failure(f"{requirement} has no wheel for {platform}: change the version in your requirements")
    if files is None:
        return Failure(f"{name} was not found on the package index: check its name in your requirements")
    fit = wheel_fit(files, arch, os_name, python_version)
    if not fit.has_wheels:
        return Failure(f"{name} publishes no wheel for {platform} (its source would be compiled against "
                       "this machine's glibc): pick a version or an alternative that ships manylinux wheels")
    loadable, newer_glibc = fit.matching(specifier)
    if loadable:
        return Failure(f"{requirement} has a wheel for {os_name} that uv cannot select", True)
    others = ", ".join(str(version) for version in fit.loadable[-8:]) or "none"
    target = operating_system(os_name)
    if newer_glibc:
        hint = (" or build for AL2023 (--os al2023 on provided.al2023, or Python 3.12+)"
                if os_name == "al2" else "")
        glibc = f"{target.glibc[0]}.{target.glibc[1]}"
        return Failure(f"{requirement} has no wheel {os_name} can load: its Linux wheels need a glibc newer "
                       f"than {os_name}'s {glibc} (versions that load: {others}): pin one of those{hint}")
    return Failure(f"no version of {requirement} has a wheel for {platform} (versions with one: {others}): "
                   "change the version in your requirements")


def install_with_exact_tags(requirements_file: Path, target: Path, arch: str, os_name: str,
                            python_version: str, report: Report | None) -> None:
    """AL2's manylinux_2_24-2_26 wheels: uv resolves for the target, pip installs the pins with AL2's tags.

    uv resolves (markers and Requires-Python for the target) against a ceiling above AL2's; pip, which
    takes an exact list of platform tags, then installs those pins without resolving again.
    """
    pinned = target.parent / f".{target.name}-pinned.txt"
    cpu = machine(arch)
    if report:
        report(f"resolving for {os_name}'s exact manylinux tags (glibc 2.26)")
    status, lines = _run([uv_binary(), "pip", "compile", "--python", sys.executable, "--python-platform",
                          f"{cpu}-manylinux_2_28", "--python-version", python_version, "--only-binary",
                          ":all:", "--no-header", "--no-annotate", "--color", "never", "-o", str(pinned),
                          str(requirements_file)], None)
    if status != 0:
        raise BuildError(explain_failure(lines, arch, os_name, python_version).message)
    if subprocess.run([sys.executable, "-m", "pip", "--version"], capture_output=True,
                      timeout=60).returncode != 0:
        raise BuildError(f"a requirement has only manylinux_2_24-2_26 wheels for {os_name}, which lamina "
                         "installs with pip, and pip is not installed in lamina's environment: "
                         f"{sys.executable} -m ensurepip, or build for AL2023 (--os al2023)")
    command = [sys.executable, "-m", "pip", "install", "--no-deps", "--target", str(target),
               "--implementation", "cp", "--python-version", python_version, "--only-binary=:all:",
               "--no-compile", "--disable-pip-version-check", "--no-input", "--progress-bar", "off",
               "--timeout", "60"]
    for platform in wheel_platforms(arch, os_name):
        command += ["--platform", platform]
    status, lines = _run([*command, "-r", str(pinned)], report)
    pinned.unlink(missing_ok=True)
    if status != 0:
        failure = explain_failure(lines, arch, os_name, python_version)
        raise BuildError(failure.message.replace("that uv cannot select", "that pip could not install"))


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
    for direct_url in sorted(target.glob("*.dist-info/direct_url.json")):
        direct_url.unlink()  # the URL or local path it was installed from: this machine's, not the bundle's
    clean_records(target)


def clean_records(target: Path) -> None:
    """Keep in each ``RECORD`` only the files the bundle ships.

    The rows of removed files would keep, among others, the hashes of ``bin/`` scripts whose shebang
    names this machine's interpreter: the same requirements would give different zips on every machine.
    """
    for record in sorted(target.glob("*.dist-info/RECORD")):
        rows = record.read_text(encoding="utf-8").splitlines()
        kept = [row for row in rows if row and _shipped(target, row.split(",", 1)[0].strip('"'))]
        if kept != rows:
            # write beside and rename: installed files may be hard links into uv's cache
            fresh = record.with_name("RECORD.lamina")
            fresh.write_text("".join(f"{row}\n" for row in kept), encoding="utf-8")
            os.replace(fresh, record)


def _shipped(target: Path, relative: str) -> bool:
    path = (target / relative).resolve()
    root = target.resolve()
    return (path == root or root in path.parents) and path.is_file()
