"""Helpers for the build tests: the real ``lamina`` command in a child process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def run_lamina(*args: str, cwd: Path | None = None, timeout: float = 300,
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """The real ``lamina`` command in a child process (``env`` adds to this process's environment)."""
    return subprocess.run([sys.executable, "-m", "lamina", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, "COLUMNS": "200", **(env or {})})


def error_lines(result: subprocess.CompletedProcess[str]) -> list[str]:
    return [line for line in result.stderr.splitlines() if line.startswith("Error:")]


def symbol_versions(path: Path) -> str:
    """binutils' view of a file's dynamic symbols, an independent witness of the versions it needs."""
    if shutil.which("objdump") is None:
        pytest.skip("objdump (binutils) is not installed")
    return subprocess.run(["objdump", "-T", str(path)], capture_output=True, text=True, check=True).stdout
