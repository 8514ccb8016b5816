"""lamina's runtime as Lambda's ``python3.X`` runs a function: on that Python, with only its packages.

Lambda runs a ``python3.12`` function on Python 3.12, whatever the machine that deployed it runs, and
its ``sys.path`` holds the code (``/var/task``), the layers (``/opt/python/lib/python3.12/site-packages``,
``/opt/python``), the runtime with the AWS SDK for Python (``/var/runtime``), and the standard library:
nothing a developer installed for themselves. A function that imports what it did not bundle fails
there, so it fails here too.

- **The interpreter** (:func:`find_interpreter`): ``--python 3.X=/path`` if given, this interpreter if
  it is 3.X, else the first ``python3.X`` on ``PATH`` (or in pyenv's versions) that runs and says it
  is 3.X, else ``uv python find 3.X``. None found: :class:`RuntimeNotInstalled`, which the invocation
  reports as ``Runtime.InvalidEntrypoint``, never a silent start on another version.
- **What it imports**: it starts with ``-s -S`` (no user site, no site-packages, ``PYTHONPATH`` still
  honoured), and ``PYTHONPATH`` ends with two directories made once per :class:`PythonRuntimes`, of
  symlinks to what is installed here: the runtime's (only ``lamina/`` and SnapStart's
  ``snapshot_restore_py``; ``LAMBDA_RUNTIME_DIR``), and the AWS SDK's (boto3, botocore and what they
  import, as the managed runtimes provide them; ``boto3=False`` leaves it out). bubblewrap mounts the
  same packages at ``/var/runtime`` (:func:`~lamina.local.sandbox.bubblewrap.wrap`).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional, Sequence

from lamina.local.model.function_config import FunctionConfig

# The AWS SDK for Python as Lambda's managed Python runtimes provide it.
SDK_MODULES = ("boto3", "botocore", "s3transfer", "jmespath", "dateutil", "urllib3", "six")
# What the runtime itself provides besides lamina: SnapStart's hook registry (snapshot_restore_py).
RUNTIME_MODULES = ("snapshot_restore_py",)
# No site-packages and no user site; PYTHONPATH is still read (-I would ignore it).
ISOLATION_FLAGS = ("-s", "-S")
_PROBE = "import sys; print('%d.%d' % sys.version_info[:2]); print(sys.base_prefix)"
_PROBE_TIMEOUT = 10.0


class RuntimeNotInstalled(Exception):
    """No interpreter for the function's ``python3.X``: the message says how to get one."""


@dataclass(frozen=True)
class Interpreter:
    """A Python that runs functions of its version."""

    path: str
    version: str  # "3.12"
    base_prefix: str  # its installation (what bubblewrap mounts)


def runtime_packages() -> list[Path]:
    """lamina, and what Lambda's Python runtimes provide with theirs, as installed here."""
    return [Path(__file__).resolve().parents[2], *_installed(RUNTIME_MODULES)]


def sdk_packages() -> list[Path]:
    """boto3 and what it imports, as installed here (what is missing is left out)."""
    return _installed(SDK_MODULES)


def _installed(names: Sequence[str]) -> list[Path]:
    found = []
    for name in names:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            continue
        origin = Path(spec.origin)
        found.append(origin.parent if spec.submodule_search_locations else origin)
    return found


def probe(path: str) -> Optional[Interpreter]:
    """What ``path`` is, if it runs as a Python (a pyenv shim of an inactive version does not)."""
    try:
        answer = subprocess.run([path, *ISOLATION_FLAGS, "-c", _PROBE], capture_output=True, text=True,
                                timeout=_PROBE_TIMEOUT, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.SubprocessError):
        return None
    lines = answer.stdout.splitlines()
    if answer.returncode != 0 or len(lines) != 2:
        return None
    return Interpreter(path, lines[0], lines[1])


def _candidates(version: str, search_path: str) -> list[str]:
    name = f"python{version}"
    found = [str(Path(directory) / name) for directory in search_path.split(os.pathsep) if directory]
    pyenv = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv") / "versions"
    if pyenv.is_dir():
        found += sorted((str(path) for path in pyenv.glob(f"{version}.*/bin/{name}")), reverse=True)
    return [path for path in found if os.access(path, os.X_OK)]


def _uv_find(version: str) -> Optional[str]:
    uv = shutil.which("uv") or shutil.which("uv", path=str(Path(sys.executable).parent))
    if uv is None:
        return None
    try:
        answer = subprocess.run([uv, "python", "find", "--no-project", version], capture_output=True,
                                text=True, timeout=30, stdin=subprocess.DEVNULL,
                                env={**os.environ, "UV_PYTHON_DOWNLOADS": "never"})
    except (OSError, subprocess.SubprocessError):
        return None
    return answer.stdout.strip() or None if answer.returncode == 0 else None


def find_interpreter(version: str, given: Mapping[str, str],
                     search_path: Optional[str] = None) -> Interpreter:
    """The Python that runs ``python{version}`` functions, or :class:`RuntimeNotInstalled`."""
    if version in given:
        chosen = probe(given[version])
        if chosen is None or chosen.version != version:
            what = f"Python {chosen.version}" if chosen is not None else "not a Python that runs"
            raise RuntimeNotInstalled(f"--python {version}={given[version]} is {what}, not Python {version}")
        return chosen
    if version == f"{sys.version_info.major}.{sys.version_info.minor}":
        return Interpreter(sys.executable, version, sys.base_prefix)
    for path in _candidates(version, os.environ.get("PATH", "") if search_path is None else search_path):
        found = probe(path)
        if found is not None and found.version == version:
            return found
    uv_path = _uv_find(version)
    found = probe(uv_path) if uv_path else None
    if found is not None and found.version == version:
        return found
    raise RuntimeNotInstalled(
        f"Runtime python{version} is not installed: no python{version} on PATH, in pyenv or through "
        f"`uv python find {version}`. Install it (uv python install {version}) or name it with "
        f"--python {version}=/path/to/python{version}")


def parse_pythons(values: Sequence[str]) -> dict[str, str]:
    """``--python 3.12=/path/to/python3.12`` values; ValueError for anything else."""
    found: dict[str, str] = {}
    for value in values:
        version, sep, path = value.partition("=")
        if not sep or not re.fullmatch(r"3\.[0-9]+", version) or not path:
            raise ValueError(f"expected 3.X=/path/to/python, got {value!r}")
        found[version] = path
    return found


class PythonRuntimes:
    """How one local Lambda starts lamina's runtime for its ``python3.X`` functions."""

    def __init__(self, interpreters: Optional[Mapping[str, str]] = None, *, boto3: bool = True) -> None:
        self.given = dict(interpreters or {})
        self.boto3 = boto3
        self._found: dict[str, Interpreter | RuntimeNotInstalled] = {}
        self._root: Optional[Path] = None

    def interpreter(self, version: str) -> Interpreter:
        """The interpreter of ``version`` (looked for once; blocking: call it off the event loop)."""
        if version not in self._found:
            try:
                self._found[version] = find_interpreter(version, self.given)
            except RuntimeNotInstalled as missing:
                self._found[version] = missing
        found = self._found[version]
        if isinstance(found, RuntimeNotInstalled):
            raise found
        return found

    def packages(self) -> list[Path]:
        """What the runtime imports besides the function's code: lamina, and the SDK unless turned off."""
        return [*runtime_packages(), *(sdk_packages() if self.boto3 else [])]

    @functools.cached_property
    def _directories(self) -> tuple[Path, Optional[Path]]:
        self._root = Path(tempfile.mkdtemp(prefix="lamina-runtime-"))
        runtime_dir = self._root / "runtime"
        runtime_dir.mkdir()
        for package in runtime_packages():
            (runtime_dir / package.name).symlink_to(package)
        if not self.boto3:
            return runtime_dir, None
        sdk_dir = self._root / "sdk"
        sdk_dir.mkdir()
        for package in sdk_packages():
            (sdk_dir / package.name).symlink_to(package)
        return runtime_dir, sdk_dir

    def command(self, config: FunctionConfig, env: Mapping[str, str],
                runtime_dirs: Optional[Sequence[str]] = None) -> tuple[list[str], dict[str, str]]:
        """argv and variables of lamina's runtime for ``config``, ``env`` completed.

        ``runtime_dirs``: where the runtime's packages are seen (bubblewrap's ``/var/runtime``);
        by default this object's own directories.
        """
        if config.python_version is None:
            raise RuntimeNotInstalled(f"Runtime {config.runtime_name} has no bootstrap: give --bootstrap or "
                                      "an executable bootstrap in the code")
        interpreter = self.interpreter(config.python_version)
        argv = [interpreter.path, *ISOLATION_FLAGS, "-m", "lamina.runtime"]
        if config.handler:
            argv.append(config.handler)
        if runtime_dirs is None:
            runtime_dir, sdk_dir = self._directories
            runtime_dirs = [str(sdk_dir or ""), str(runtime_dir)]
        path = [part for part in env.get("PYTHONPATH", "").split(os.pathsep) if part]
        path += [part for part in runtime_dirs if part and part not in path]
        return argv, {**env, "PYTHONPATH": os.pathsep.join(path), "LAMBDA_RUNTIME_DIR": runtime_dirs[-1],
                      "PYTHONNOUSERSITE": "1"}

    def close(self) -> None:
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)
            self._root = None
            self.__dict__.pop("_directories", None)
