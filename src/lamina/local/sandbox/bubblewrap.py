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

import atexit
import contextlib
import functools
import os
import shutil
import subprocess
import sysconfig
import tempfile
from pathlib import Path
from typing import Optional, Sequence

TASK_ROOT = "/var/task"
OPT = "/opt"
RUNTIME_DIR = "/var/runtime"
DEFAULT_EPHEMERAL_STORAGE_MB = 512
DEFAULT_TMP_BYTES = DEFAULT_EPHEMERAL_STORAGE_MB * 1024 * 1024
SANDBOX_HOST = "sandbox.localdomain"
_SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64")
# What programs read from /etc (names, certificates, the loader's cache), and nothing else of it.
_ETC_FILES = ("alternatives", "ca-certificates", "ca-certificates.conf", "pki", "ssl", "hosts",
              "resolv.conf", "nsswitch.conf", "passwd", "group", "localtime", "ld.so.cache", "ld.so.conf",
              "ld.so.conf.d", "mime.types")


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


@functools.lru_cache(maxsize=1)
def sandbox_hosts() -> str:
    """The sandbox's ``/etc/hosts``: the machine's, plus ``sandbox.localdomain`` (the listener address
    AWS documents for Telemetry API subscribers) as loopback. One file per ``lamina serve``."""
    try:
        hosts = Path("/etc/hosts").read_text()
    except OSError:
        hosts = "127.0.0.1\tlocalhost\n"
    descriptor, path = tempfile.mkstemp(prefix="lamina-hosts-")
    with os.fdopen(descriptor, "w") as file:
        file.write(hosts.rstrip("\n") + f"\n127.0.0.1\t{SANDBOX_HOST} sandbox\n")
    atexit.register(_remove, path)
    return path


def _remove(path: str) -> None:
    with contextlib.suppress(OSError):
        os.unlink(path)


def bwrap_prefix(code_dir: Path, opt: Optional[Path], tmp_bytes: int = DEFAULT_TMP_BYTES,
                 runtime_binds: Sequence[tuple[Path, str]] = ()) -> tuple[str, ...]:
    """bubblewrap arguments for Lambda's filesystem and nothing else of this machine's.

    The environment gets its own PID namespace (it sees only its own processes, and all of them end
    when its first process does), a private ``/tmp`` of ``tmp_bytes`` (``EphemeralStorage``), the
    code read-only at ``/var/task``, the layers read-only at ``/opt`` (an empty read-only directory
    without layers, as on Lambda, not the machine's own ``/opt``), the runtime at ``/var/runtime``,
    and of the host only the system directories and the few ``/etc`` files programs need: not the
    data directory, other functions' code, or anyone's home.
    """
    prefix = ["bwrap", "--unshare-pid", "--die-with-parent", "--new-session",
              "--ro-bind", "/usr", "/usr"]
    for name in _SYSTEM_DIRS:
        path = Path("/", name)
        if path.is_symlink():
            prefix += ["--symlink", os.readlink(path), str(path)]
        elif path.is_dir():
            prefix += ["--ro-bind", str(path), str(path)]
    for name in _ETC_FILES:
        origin = sandbox_hosts() if name == "hosts" else f"/etc/{name}"
        prefix += ["--ro-bind-try", origin, f"/etc/{name}"]
    prefix += ["--proc", "/proc", "--dev", "/dev", "--size", str(tmp_bytes), "--tmpfs", "/tmp",
               "--dir", "/var", "--ro-bind", str(code_dir), TASK_ROOT]
    if opt is not None:
        prefix += ["--ro-bind", str(opt), OPT]
    else:
        prefix += ["--tmpfs", OPT, "--remount-ro", OPT]
    for source, target in runtime_binds:
        prefix += ["--ro-bind", str(source), target]
    return (*prefix, "--chdir", TASK_ROOT, "--")


def wrap(argv: Sequence[str], code_dir: Path, opt: Optional[Path],
         ephemeral_storage_mb: int = DEFAULT_EPHEMERAL_STORAGE_MB, python_prefix: Optional[str] = None,
         runtime_packages: Sequence[Path] = ()) -> tuple[list[str], dict[str, str]]:
    """The command that runs ``argv`` in a bubblewrap sandbox, and the variables it needs there.

    ``python_prefix``: ``argv`` is lamina's runtime on the Python installed there, which is mounted
    read-only (its own site-packages hidden), with ``runtime_packages`` (lamina, the AWS SDK for
    Python) in ``/var/runtime``, as Lambda's managed Python runtimes have them.
    """
    command = list(argv)
    tmp_bytes = ephemeral_storage_mb * 1024 * 1024
    if python_prefix is None:
        return [*bwrap_prefix(code_dir, opt, tmp_bytes), *command], {}
    command[0] = os.path.realpath(command[0])
    base = Path(python_prefix).resolve()
    binds = [(base, str(base)), *((package, f"{RUNTIME_DIR}/{package.name}") for package in runtime_packages)]
    site = Path(sysconfig.get_paths(vars={"base": str(base), "platbase": str(base)})["purelib"])
    variables = {"LAMBDA_RUNTIME_DIR": RUNTIME_DIR, "PYTHONNOUSERSITE": "1"}
    prefix = bwrap_prefix(code_dir, opt, tmp_bytes, binds)
    hide_site = ("--tmpfs", str(site)) if site.is_dir() else ()
    return [*prefix[:-3], *hide_site, *prefix[-3:], *command], variables


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
        return ("deployed functions run under bubblewrap: their own PID namespace, read-only /var/task "
                "and /opt, a private /tmp of their EphemeralStorage size, and no view of the data "
                "directory, other functions' code or home directories")
    reason = ("LAMINA_SANDBOX=path" if os.environ.get("LAMINA_SANDBOX", "").lower() == "path"
              else "bubblewrap cannot mount here" if shutil.which("bwrap") else "bubblewrap not found")
    return (f"{reason}: deployed functions run in path mode (code and merged layers under the data "
            "directory; LAMBDA_TASK_ROOT, PYTHONPATH, PATH and LD_LIBRARY_PATH point there); they run "
            "as you and can read what you can: only their Runtime API, /tmp (TMPDIR, not size-limited) "
            "and processes are kept apart")
