#!/usr/bin/env python3
"""Set up the project and run its main jobs, on a fresh machine with only ``python3``.

    python3 scripts/dev.py demo    # set up, then serve examples/hello locally and invoke it
    python3 scripts/dev.py test    # set up, then ruff, mypy and the whole test suite
    python3 scripts/dev.py setup   # only the set-up: .venv with lamina[dev], AWS's emulator in .cache/

Everything it installs stays inside the checkout (.venv/, .cache/), so a clean clone is all it needs.
Standard library only: it runs before anything is installed.
"""

from __future__ import annotations

import hashlib
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV = ROOT / ".venv"
CACHE = ROOT / ".cache"
VENV_PYTHON = VENV / "bin" / "python"
# AWS's Runtime Interface Emulator ships inside this wheel; the version is pinned so runs are comparable.
SAM_CLI_VERSION = "1.170.0"
RIE_ARCH = {"x86_64": "x86_64", "amd64": "x86_64", "aarch64": "arm64", "arm64": "arm64"}


def run(*cmd: str | os.PathLike[str], **kwargs: object) -> None:
    print("+", " ".join(str(c) for c in cmd), flush=True)
    subprocess.run([str(c) for c in cmd], check=True, cwd=ROOT, **kwargs)  # type: ignore[call-overload]


def ensure_venv() -> None:
    """Create .venv and install lamina[dev] into it, again only when pyproject.toml changed."""
    stamp = VENV / ".lamina-installed"
    wanted = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()
    if stamp.exists() and stamp.read_text() == wanted and VENV_PYTHON.exists():
        return
    if not VENV_PYTHON.exists():
        run(sys.executable, "-m", "venv", VENV)
    run(VENV_PYTHON, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    run(VENV_PYTHON, "-m", "pip", "install", "--quiet", "-e", ".[dev]")
    stamp.write_text(wanted)


def rie_path() -> Path:
    arch = RIE_ARCH.get(platform.machine(), platform.machine())
    return CACHE / "rie" / f"aws-lambda-rie-{arch}"


def ensure_rie() -> Path:
    """Fetch AWS's emulator from the aws-sam-cli wheel on PyPI (once) and cache the one binary."""
    target = rie_path()
    if target.exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        run(VENV_PYTHON, "-m", "pip", "download", "--quiet", "--no-deps", "--dest", tmp,
            f"aws-sam-cli=={SAM_CLI_VERSION}")
        wheel = next(Path(tmp).glob("aws_sam_cli-*.whl"))
        member = f"samcli/local/rapid/{target.name}"
        with zipfile.ZipFile(wheel) as archive, archive.open(member) as src:
            partial = target.with_suffix(".part")
            with open(partial, "wb") as dst:
                shutil.copyfileobj(src, dst)
            partial.chmod(0o755)
            partial.replace(target)
    return target


def ensure_bubblewrap() -> None:
    """On CI, install bubblewrap (best effort) so the sandbox and AWS's emulator's LMI mode get tested.

    lamina works without it (the tests that need it skip); on a developer's machine it is their call.
    """
    if os.environ.get("CI") != "true" or shutil.which("bwrap") or not shutil.which("apt-get"):
        return
    if hasattr(os, "geteuid") and os.geteuid() != 0:
        return
    for step in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", "bubblewrap"]):
        try:
            subprocess.run(step, check=True, timeout=300, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        except (OSError, subprocess.SubprocessError) as exc:
            print(f"bubblewrap not installed ({exc}); its tests will be skipped", flush=True)
            return


def setup() -> None:
    ensure_venv()
    ensure_rie()
    ensure_bubblewrap()


def demo() -> int:
    setup()
    return subprocess.call([str(VENV_PYTHON), str(ROOT / "scripts" / "demo.py")], cwd=ROOT)


def test(pytest_args: list[str]) -> int:
    setup()
    env = dict(os.environ, LAMINA_RIE=str(rie_path()))
    run(VENV_PYTHON, "-m", "ruff", "check", "src", "tests", "bench", "scripts", "examples")
    run(VENV_PYTHON, "-m", "mypy")
    return subprocess.call([str(VENV_PYTHON), "-m", "pytest", *pytest_args], cwd=ROOT, env=env)


def main(argv: list[str]) -> int:
    command = argv[0] if argv else "demo"
    if command == "setup":
        setup()
        return 0
    if command == "demo":
        return demo()
    if command == "test":
        return test(argv[1:])
    if command == "rie-path":
        print(ensure_rie())
        return 0
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
