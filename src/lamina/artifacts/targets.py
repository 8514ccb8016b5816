"""What Lambda's execution environments are made of, as far as a build needs to know.

A function bundle or a layer is right for Lambda only when its native code matches the CPU
(x86_64 or arm64) and loads against the glibc and libstdc++ of the operating system the runtime runs on.
These facts live here once; ``dependencies`` uses them to ask uv for wheels and ``elf_check`` to verify files.
"""

from __future__ import annotations

from dataclasses import dataclass

ARCHITECTURES = ("x86_64", "arm64")
OPERATING_SYSTEMS = ("al2023", "al2")
PYTHON_VERSIONS = ("3.9", "3.10", "3.11", "3.12", "3.13", "3.14")

# Lambda says arm64; ELF, wheels and compilers say aarch64.
_MACHINE = {"x86_64": "x86_64", "arm64": "aarch64"}
_ELF_MACHINE = {"x86_64": "EM_X86_64", "arm64": "EM_AARCH64"}


@dataclass(frozen=True)
class OperatingSystem:
    """The newest glibc and libstdc++ symbol versions an OS provides: a file needing newer ones won't load."""

    name: str
    glibc: tuple[int, ...]
    glibcxx: tuple[int, ...]


# al2023: glibc-2.34 (rpm list of the Lambda python3.12 image); its libstdc++ came from gcc 11
# (GLIBCXX_3.4.29). AL2023 later moved libstdc++ to gcc 14, but Lambda images lagged and reported
# "GLIBCXX_3.4.30 not found" (amazonlinux/container-images#132), so 3.4.29 is the safe ceiling.
# al2: glibc 2.26 and libstdc++-7.3.1 (GLIBCXX_3.4.24).
OPERATING_SYSTEMS_BY_NAME = {
    "al2023": OperatingSystem("al2023", glibc=(2, 34), glibcxx=(3, 4, 29)),
    "al2": OperatingSystem("al2", glibc=(2, 26), glibcxx=(3, 4, 24)),
}


def machine(arch: str) -> str:
    """The CPU name wheels and ELF use for a Lambda architecture (``arm64`` -> ``aarch64``)."""
    return _MACHINE[arch]


def elf_machine(arch: str) -> str:
    """pyelftools' ``e_machine`` value for a Lambda architecture."""
    return _ELF_MACHINE[arch]


def operating_system(name: str) -> OperatingSystem:
    return OPERATING_SYSTEMS_BY_NAME[name]


def default_os(python_version: str) -> str:
    """The OS of the managed runtime for a Python version: python3.12 and later run on AL2023."""
    minor = int(python_version.split(".")[1])
    return "al2023" if minor >= 12 else "al2"


def wheel_platforms(arch: str, os_name: str, glibc_minor: int | None = None) -> list[str]:
    """Every manylinux tag a wheel may carry and still load on the OS: manylinux1 up to its glibc.

    ``glibc_minor`` overrides the OS's ceiling (to ask "would a newer glibc have a wheel?").
    musllinux and macOS tags never load on Lambda.
    """
    ceiling = operating_system(os_name).glibc[1] if glibc_minor is None else glibc_minor
    cpu = machine(arch)
    legacy = ["manylinux1", "manylinux2010"] if cpu == "x86_64" else []
    tags = [f"{name}_{cpu}" for name in legacy] + [f"manylinux2014_{cpu}"]
    tags += [f"manylinux_2_{minor}_{cpu}" for minor in range(5, ceiling + 1)]
    return tags


# The manylinux ceilings uv's --python-platform can name (uv 0.13: 2_17, 2_28, 2_31…2_40).
_UV_MANYLINUX = (17, 28, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40)


def uv_platform(arch: str, os_name: str) -> str:
    """uv's ``--python-platform`` for the OS: the highest manylinux level uv names that still loads.

    AL2023 (glibc 2.34) is exact: ``x86_64-manylinux_2_34``. AL2 (2.26) has no name of its own, so
    ``manylinux_2_17`` is used: every wheel it picks loads, and the rare ``manylinux_2_24``-``2_26``
    wheel is reached by ``dependencies``' exact-tag fallback.
    """
    ceiling = operating_system(os_name).glibc[1]
    level = max(minor for minor in _UV_MANYLINUX if minor <= ceiling)
    return f"{machine(arch)}-manylinux_2_{level}"


def uv_platform_is_exact(os_name: str) -> bool:
    """Whether :func:`uv_platform` names the OS's own glibc ceiling (False on AL2)."""
    return operating_system(os_name).glibc[1] in _UV_MANYLINUX


def abi_tag(python_version: str) -> str:
    """CPython's ABI tag and extension-module infix for a version: ``3.12`` -> ``312``."""
    return python_version.replace(".", "")
