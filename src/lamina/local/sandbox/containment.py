"""Every process an execution environment starts ends with it, and with ``lamina serve``.

Lambda freezes and discards a whole sandbox; a handler's ``setsid`` daemon or a forked child does not
outlive it. Locally the runtime runs in its own session, which ``killpg`` reaches, but a process that
starts a new session escapes that, and a ``kill -9`` of ``lamina serve`` leaves everything running.
Two ways to keep hold of them, chosen once per ``lamina serve`` (:meth:`Containment.detect`):

- **cgroup** (a writable cgroup v2 hierarchy, as root or under a delegated systemd slice): each
  environment's processes are put in their own cgroup ``lamina-<serve pid>/env-<id>`` before the
  runtime starts; ``cgroup.kill`` ends all of them at once, whatever sessions they made.
- **marker** (no writable cgroup): each environment's processes carry ``LAMINA_ENVIRONMENT_ID`` in
  their environment, inherited by every child; ending an environment kills every process that still
  carries its marker. A process that clears its own environment and starts a new session escapes it.

Either way a guardian process, started with the first environment, waits on a pipe from ``lamina
serve``; when serve is gone (even after ``kill -9``) the pipe closes and the guardian ends what is
left. :func:`describe` says which holds.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import subprocess
import sys
from pathlib import Path
from typing import Callable, Optional

MARKER = "LAMINA_ENVIRONMENT_ID"
CGROUP_ENV = "LAMINA_CGROUP"  # "off" forces the marker mode (tests use it to exercise both)

# The guardian: standard library only, started with ``python -c``; argv: fd, mode, target.
_GUARDIAN = r"""
import os, signal, sys, time
fd, mode, target = int(sys.argv[1]), sys.argv[2], sys.argv[3]
signal.signal(signal.SIGINT, signal.SIG_IGN)
try:
    while os.read(fd, 4096):
        pass
except OSError:
    pass
if mode == "cgroup":
    try:
        with open(os.path.join(target, "cgroup.kill"), "w") as kill:
            kill.write("1")
    except OSError:
        pass
    for _ in range(100):
        try:
            for name in os.listdir(target):
                child = os.path.join(target, name)
                if os.path.isdir(child):
                    try:
                        os.rmdir(child)
                    except OSError:
                        pass
            os.rmdir(target)
            break
        except FileNotFoundError:
            break
        except OSError:
            time.sleep(0.05)
else:
    needle = target.encode()
    for entry in os.listdir("/proc"):
        if entry.isdigit() and int(entry) != os.getpid():
            try:
                with open("/proc/%s/environ" % entry, "rb") as environ:
                    values = environ.read().split(b"\0")
            except OSError:
                continue
            if any(value.startswith(needle) for value in values):
                try:
                    os.kill(int(entry), signal.SIGKILL)
                except OSError:
                    pass
"""


def _cgroup_v2_root() -> Optional[Path]:
    """This process's own cgroup v2 directory, if the unified hierarchy is mounted."""
    try:
        mounts = Path("/proc/self/mountinfo").read_text().splitlines()
        own = next(line.split("::", 1)[1] for line in Path("/proc/self/cgroup").read_text().splitlines()
                   if line.startswith("0::"))
    except (OSError, StopIteration):
        return None
    for line in mounts:
        fields = line.split(" - ", 1)
        if len(fields) == 2 and fields[1].split()[0] == "cgroup2":
            mount_point = fields[0].split()[4]
            return Path(mount_point + own.rstrip("/")) if own != "/" else Path(mount_point)
    return None


class EnvironmentScope:
    """The processes of one execution environment."""

    def __init__(self, containment: Containment, environment_id: str) -> None:
        self.id = environment_id
        self.marker = f"{containment.token}-{environment_id}"
        self.cgroup = (containment.group / f"env-{environment_id}") if containment.group is not None else None
        if self.cgroup is not None:
            self.cgroup.mkdir(parents=True, exist_ok=True)
        self._containment = containment

    def variables(self) -> dict[str, str]:
        """What the environment's processes carry (the marker mode's way to find them again)."""
        return {MARKER: self.marker}

    def preexec(self) -> Optional[Callable[[], None]]:
        """Run in the child before exec: join the environment's cgroup (cgroup mode)."""
        if self.cgroup is None:
            return None
        procs = str(self.cgroup / "cgroup.procs")

        def join() -> None:
            with open(procs, "w") as handle:
                handle.write("0")

        return join

    def pids(self) -> list[int]:
        """Every live process of the environment."""
        if self.cgroup is not None:
            try:
                return [int(pid) for pid in (self.cgroup / "cgroup.procs").read_text().split()]
            except OSError:
                return []
        return _marked(self.marker)

    def kill_all(self) -> None:
        """End every process of the environment, whatever session or process group it made."""
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                (self.cgroup / "cgroup.kill").write_text("1")
            return
        for pid in _marked(self.marker):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)

    def close(self) -> None:
        """Forget the environment (its cgroup goes once empty; the guardian removes what remains)."""
        if self.cgroup is not None:
            with contextlib.suppress(OSError):
                self.cgroup.rmdir()


def _marked(marker: str) -> list[int]:
    needle = f"{MARKER}={marker}".encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            values = Path(f"/proc/{entry}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if needle in values:
            found.append(int(entry))
    return found


class Containment:
    """How this ``lamina serve`` keeps hold of its environments' processes (see the module)."""

    def __init__(self, group: Optional[Path]) -> None:
        # The cgroup of this serve's environments, in cgroup mode: made with the first environment
        # (with the guardian that removes it), so a serve that never starts one leaves nothing behind.
        self.group = group
        self.token = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._guardian: Optional[subprocess.Popen[bytes]] = None
        self._pipe: Optional[int] = None

    @property
    def mode(self) -> str:
        return "cgroup" if self.group is not None else "marker"

    @classmethod
    def detect(cls) -> Containment:
        """cgroup mode where a cgroup v2 directory of ours is writable, else marker mode."""
        if os.environ.get(CGROUP_ENV, "").lower() != "off" and sys.platform.startswith("linux"):
            root = _cgroup_v2_root()
            if root is not None:
                group = root / f"lamina-{os.getpid()}-{secrets.token_hex(3)}"
                try:  # writable here? (made for good with the first environment)
                    group.mkdir()
                    group.rmdir()
                    return cls(group)
                except OSError:
                    pass
        return cls(None)

    def scope(self, environment_id: str) -> EnvironmentScope:
        self._ensure_guardian()
        return EnvironmentScope(self, environment_id)

    def close(self) -> None:
        """serve is stopping: the guardian ends what is left and removes the cgroups."""
        if self._pipe is not None:
            os.close(self._pipe)
            self._pipe = None
        if self._guardian is not None:
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._guardian.wait(timeout=5)
            self._guardian = None
        elif self.group is not None:
            with contextlib.suppress(OSError):
                self.group.rmdir()

    def _ensure_guardian(self) -> None:
        if self._guardian is not None:
            return
        read_end, write_end = os.pipe()
        target = str(self.group) if self.group is not None else f"{MARKER}={self.token}-"
        try:
            self._guardian = subprocess.Popen(
                [sys.executable, "-S", "-c", _GUARDIAN, str(read_end), self.mode, target],
                pass_fds=(read_end,), stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            os.close(read_end)
        os.set_inheritable(write_end, False)
        self._pipe = write_end


def describe(containment: Containment) -> str:
    """One line for serve's start: how environments' processes are kept hold of."""
    if containment.mode == "cgroup":
        return (f"environments' processes run in cgroup {containment.group}: every process an environment "
                "starts, daemons included, ends with it and with lamina serve (even after kill -9)")
    return ("no writable cgroup v2: environments' processes are marked (LAMINA_ENVIRONMENT_ID) and end "
            "with their environment and with lamina serve (even after kill -9); a process that clears "
            "its environment and starts a new session can escape")
