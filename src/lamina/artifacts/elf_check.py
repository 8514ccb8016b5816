"""Will this native code load on Lambda? Reads every ELF file in a bundle, a layer or a directory.

A shared object or executable loads only when its CPU matches the function's architecture and every
versioned symbol it needs from the system (``GLIBC_2.35``, ``GLIBCXX_3.4.30``…) exists in the OS's glibc
and libstdc++. Both facts are in the ELF headers (``e_machine`` and ``.gnu.version_r``), so they are
checked before upload instead of discovered as an ``ImportError`` at the first cold start. Needs met by
a library the bundle ships itself (auditwheel's vendored ``libstdc++``) do not count against the OS.

Two more reasons a file will not load: an extension module built for another CPython
(``_x.cpython-311-x86_64-linux-gnu.so`` in a 3.12 bundle: its name is not even looked for), and a
binary linked against musl (``libc.musl-x86_64.so.1``, from a musllinux wheel), which Lambda's glibc
systems do not have. The bundle's Python, when not given, is read from its bytecode and extension
modules, and the OS defaults to that Python's managed runtime's.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import BinaryIO

from elftools.common.exceptions import ELFError
from elftools.elf.dynamic import DynamicSection
from elftools.elf.elffile import ELFFile
from elftools.elf.gnuversions import GNUVerNeedSection

from lamina.artifacts.errors import BuildError
from lamina.artifacts.targets import PYTHON_VERSIONS, default_os, elf_machine, operating_system

ELF_MAGIC = b"\x7fELF"
_VERSION = re.compile(r"^(GLIBC|GLIBCXX)_(\d+(?:\.\d+)+)$")
# CPython's names for extension modules and bytecode: _x.cpython-312-x86_64-linux-gnu.so, m.cpython-312.pyc
_EXTENSION_ABI = re.compile(r"\.cpython-3(\d+)[a-z]*-[^/]*\.so$")
_BYTECODE_ABI = re.compile(r"__pycache__/[^/]+\.cpython-3(\d+)(?:\.opt-\d)?\.pyc$")
_MUSL = re.compile(r"^(?:libc\.musl-|ld-musl-)")
_MACHINE_NAMES = {"EM_X86_64": "x86_64", "EM_AARCH64": "aarch64", "EM_386": "i386", "EM_ARM": "arm"}

Version = tuple[int, ...]


@dataclass
class ElfFile:
    """One ELF file: its CPU, what it provides (soname) and which symbol versions it needs from where."""

    path: str
    machine: str
    is_64bit: bool
    soname: str | None = None
    # (library file name, "GLIBC" | "GLIBCXX", version)
    needs: list[tuple[str, str, Version]] = field(default_factory=list)
    needed: list[str] = field(default_factory=list)  # DT_NEEDED: the libraries it links
    unreadable: str | None = None


@dataclass
class ElfReport:
    """The verdict on one ELF file for a target: the highest system versions it needs and why it fails."""

    path: str
    machine: str
    glibc: Version | None
    glibcxx: Version | None
    problems: list[str]

    @property
    def loads(self) -> bool:
        return not self.problems


def version_text(version: Version | None) -> str:
    return ".".join(map(str, version)) if version else "-"


def machine_name(e_machine: str) -> str:
    return _MACHINE_NAMES.get(e_machine, e_machine.removeprefix("EM_").lower())


def read_elf(path: str, stream: BinaryIO) -> ElfFile:
    """Parse the headers that decide loading; a damaged file is reported, never raised."""
    try:
        elf = ELFFile(stream)
        info = ElfFile(path, machine_name(elf.header["e_machine"]), elf.elfclass == 64)
        for section in elf.iter_sections():
            if isinstance(section, GNUVerNeedSection):
                for verneed, vernauxes in section.iter_versions():
                    for vernaux in vernauxes:
                        match = _VERSION.match(vernaux.name)
                        if match:
                            version = tuple(int(part) for part in match.group(2).split("."))
                            info.needs.append((verneed.name or "", match.group(1), version))
            elif isinstance(section, DynamicSection):
                for tag in section.iter_tags():
                    if tag.entry.d_tag == "DT_SONAME":
                        info.soname = getattr(tag, "soname", None)  # set by pyelftools per tag
                    elif tag.entry.d_tag == "DT_NEEDED":
                        info.needed.append(str(getattr(tag, "needed", "")))
        return info
    except (ELFError, ValueError, KeyError) as exc:
        return ElfFile(path, "unknown", False, unreadable=f"unreadable ELF ({exc})")


def iter_elf_files(path: Path) -> Iterator[ElfFile]:
    """Every ELF file under a directory or inside a zip, by its path relative to that root."""
    if not path.exists():
        raise BuildError(f"{path} does not exist: give a function zip, a layer zip or a directory")
    if path.is_dir():
        for root, dirs, files in os.walk(path):
            dirs.sort()
            for name in sorted(files):
                file_path = Path(root, name)
                if file_path.is_symlink() or not file_path.is_file():
                    continue  # a link's target is checked where it lives inside the tree
                with open(file_path, "rb") as handle:
                    if handle.read(4) != ELF_MAGIC:
                        continue
                    handle.seek(0)
                    yield read_elf(file_path.relative_to(path).as_posix(), handle)
        return
    if not zipfile.is_zipfile(path):
        raise BuildError(f"{path} is neither a zip file nor a directory: give a function or layer zip")
    with zipfile.ZipFile(path) as archive:
        for member in sorted(archive.infolist(), key=lambda item: item.filename):
            if member.is_dir():
                continue
            with archive.open(member) as handle:
                if handle.read(4) != ELF_MAGIC:
                    continue
            yield read_elf(member.filename, io.BytesIO(archive.read(member)))


def extension_python(path: str) -> str | None:
    """The CPython an extension module is for, from its name (``…cpython-311-….so`` -> ``3.11``)."""
    match = _EXTENSION_ABI.search(path)
    return f"3.{match.group(1)}" if match else None


def bundle_python(names: Iterable[str]) -> str | None:
    """The Python a bundle is for: its bytecode's tag, else its extension modules' most common one."""
    names = list(names)
    for pattern in (_BYTECODE_ABI, _EXTENSION_ABI):
        counts = Counter(f"3.{m.group(1)}" for m in map(pattern.search, names) if m)
        known = [(count, version) for version, count in counts.items() if version in PYTHON_VERSIONS]
        if known:
            return max(known)[1]
    return None


def judge(files: list[ElfFile], arch: str, os_name: str,
          python_version: str | None = None) -> list[ElfReport]:
    """Compare each file with the target; versions needed from a library the bundle ships are met."""
    target = operating_system(os_name)
    wanted_machine = machine_name(elf_machine(arch))
    shipped = {name for item in files for name in (item.soname, item.path.rsplit("/", 1)[-1]) if name}
    reports = []
    for item in files:
        problems: list[str] = []
        if item.unreadable:
            problems.append(item.unreadable)
        elif item.machine != wanted_machine or not item.is_64bit:
            bits = "" if item.is_64bit else " (32-bit)"
            problems.append(f"built for {item.machine}{bits}, not {wanted_machine}")
        built_for = extension_python(item.path)
        if python_version and built_for and built_for != python_version:
            problems.append(f"built for CPython {built_for}, not {python_version}: Python will not import it")
        musl = [name for name in item.needed if _MUSL.match(name)] or (
            ["musl"] if "-linux-musl" in item.path.rsplit("/", 1)[-1] else [])
        if musl:
            problems.append(f"linked against musl ({musl[0]}), {target.name} has glibc: "
                            "use a manylinux wheel")
        system_needs = [(kind, version) for library, kind, version in item.needs if library not in shipped]
        glibc = max((v for kind, v in system_needs if kind == "GLIBC"), default=None)
        glibcxx = max((v for kind, v in system_needs if kind == "GLIBCXX"), default=None)
        if glibc and glibc > target.glibc:
            problems.append(
                f"needs GLIBC_{version_text(glibc)}, {target.name} has {version_text(target.glibc)}")
        if glibcxx and glibcxx > target.glibcxx:
            problems.append(
                f"needs GLIBCXX_{version_text(glibcxx)}, {target.name} has {version_text(target.glibcxx)}")
        reports.append(ElfReport(item.path, item.machine, glibc, glibcxx, problems))
    return reports


def member_names(path: Path) -> list[str]:
    """Every file's path in a zip or under a directory (to read the bundle's Python from)."""
    if path.is_dir():
        return [item.relative_to(path).as_posix() for item in path.rglob("*") if item.is_file()]
    if zipfile.is_zipfile(path):
        with zipfile.ZipFile(path) as archive:
            return archive.namelist()
    return []


@dataclass(frozen=True)
class CheckTarget:
    """What a check compares against: the OS, and the bundle's Python (None: not known)."""

    os_name: str
    python_version: str | None


def check_target(path: Path, os_name: str | None = None, python_version: str | None = None) -> CheckTarget:
    """The OS and Python to check ``path`` for: as given, else the bundle's Python and its runtime's OS."""
    if python_version is None and path.exists():
        python_version = bundle_python(member_names(path))
    if os_name is None:
        os_name = default_os(python_version) if python_version else "al2023"
    return CheckTarget(os_name, python_version)


def check_path(path: Path, arch: str = "x86_64", os_name: str = "al2023",
               python_version: str | None = None) -> list[ElfReport]:
    """The verdict on every ELF file in ``path`` (zip or directory) for a Lambda architecture and OS."""
    return judge(list(iter_elf_files(path)), arch, os_name, python_version)


def offenders(reports: list[ElfReport]) -> list[ElfReport]:
    return [report for report in reports if not report.loads]


class IncompatibleBinaries(BuildError):
    """Native files in a build that will not load on the target; ``reports`` lists them for a table."""

    def __init__(self, message: str, reports: list[ElfReport]) -> None:
        super().__init__(message)
        self.reports = reports


def require_loadable(path: Path, arch: str, os_name: str, what: str = "the bundle",
                     python_version: str | None = None) -> list[ElfReport]:
    """Check a build's output; raise ``IncompatibleBinaries`` when any ELF file will not load."""
    reports = check_path(path, arch, os_name, python_version)
    bad = offenders(reports)
    if bad:
        first = bad[0]
        raise IncompatibleBinaries(
            f"{len(bad)} native file(s) in {what} will not load on {os_name} {arch} "
            f"({first.path}: {'; '.join(first.problems)}): use wheels or binaries built for {os_name} {arch}",
            bad)
    return reports
