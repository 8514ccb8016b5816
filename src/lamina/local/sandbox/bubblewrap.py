"""bubblewrap: how an execution environment sees Lambda's filesystem (``/var/task``, ``/opt``).

Lambda unpacks the function's zip to ``/var/task`` and its layers, in order, into ``/opt``. Two ways
to show that without root:

- **bwrap mode** (``bwrap`` on PATH and able to mount here): bubblewrap gives the runtime real
  read-only ``/var/task`` and ``/opt`` mounts, so code that hard-codes those paths works as on Lambda.
- **path mode** (otherwise, or ``LAMINA_SANDBOX=path``): the paths the runtime and the loader use
  (``PYTHONPATH``, ``PATH``, ``LD_LIBRARY_PATH``, ``LAMBDA_TASK_ROOT``) point at the code and the
  merged layers where they are (:func:`layer_paths`).
"""

from __future__ import annotations

import functools
import os
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Optional

TASK_ROOT = "/var/task"
OPT = "/opt"


def sandbox_mode() -> str:
    """``bwrap`` when bubblewrap works on this machine, else ``path``; ``LAMINA_SANDBOX`` overrides."""
    chosen = os.environ.get("LAMINA_SANDBOX", "").lower()
    if chosen in ("path", "bwrap"):
        return chosen
    return "bwrap" if bwrap_works() else "path"


@functools.lru_cache(maxsize=1)
def bwrap_works() -> bool:
    """Whether bubblewrap is installed and may mount here (containers and kernels may forbid it)."""
    if shutil.which("bwrap") is None:
        return False
    with tempfile.TemporaryDirectory(prefix="lamina-bwrap-") as empty:
        try:
            probe = subprocess.run([*bwrap_prefix(Path(empty), Path(empty)), "/bin/true"],
                                   capture_output=True, timeout=10)
        except (OSError, subprocess.TimeoutExpired):
            return False
    return probe.returncode == 0


def bwrap_prefix(code_dir: Path, opt: Optional[Path]) -> tuple[str, ...]:
    """bubblewrap arguments that show the code at /var/task and the layers at /opt, read-only.

    Without layers /opt is an empty read-only directory, as on Lambda, not the machine's own /opt.
    """
    prefix = ["bwrap", "--dev-bind", "/", "/", "--ro-bind", str(code_dir), TASK_ROOT]
    if opt is not None:
        prefix += ["--ro-bind", str(opt), OPT]
    else:
        prefix += ["--tmpfs", OPT, "--remount-ro", OPT]
    return (*prefix, "--chdir", TASK_ROOT, "--die-with-parent", "--")


def layer_paths(runtime: str, task_root: str, opt: str) -> dict[str, str]:
    """The variables through which the runtime and the loader find layer content, in Lambda's order."""
    paths = {"PATH": f"{opt}/bin:{os.environ.get('PATH', '/usr/local/bin:/usr/bin:/bin')}",
             "LD_LIBRARY_PATH": f"{task_root}:{task_root}/lib:{opt}/lib"}
    if runtime.startswith("python"):
        paths["PYTHONPATH"] = f"{opt}/python/lib/{runtime}/site-packages:{opt}/python"
    return paths


def describe_mode(mode: str) -> str:
    """One line for the logs: which way deployed functions see /var/task and /opt."""
    if mode == "bwrap":
        return "deployed functions run under bubblewrap with read-only /var/task and /opt mounts"
    reason = ("LAMINA_SANDBOX=path" if os.environ.get("LAMINA_SANDBOX", "").lower() == "path"
              else "bubblewrap cannot mount here" if shutil.which("bwrap") else "bubblewrap not found")
    return (f"{reason}: deployed functions run in path mode (code and merged layers under the data "
            "directory; LAMBDA_TASK_ROOT, PYTHONPATH, PATH and LD_LIBRARY_PATH point there)")
