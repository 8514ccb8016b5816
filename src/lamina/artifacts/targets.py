"""What Lambda's execution environments are made of, as far as a build needs to know.

A function bundle or a layer is right for Lambda only when its native code matches the CPU
(x86_64 or arm64) and loads against the glibc and libstdc++ of the operating system the runtime runs on.
These facts live here once; ``bundle`` uses them to ask pip for wheels and ``elf_check`` to verify files.
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


def wheel_platforms(arch: str, os_name: str) -> list[str]:
    """Every manylinux tag a wheel may carry and still load on the OS: manylinux2014 up to its glibc.

    pip does not widen a ``--platform`` it is given, so each acceptable tag is listed; musllinux and
    macOS tags never load on Lambda.
    """
    glibc_minor = operating_system(os_name).glibc[1]
    cpu = machine(arch)
    tags = [f"manylinux2014_{cpu}"]
    tags += [f"manylinux_2_{minor}_{cpu}" for minor in range(17, glibc_minor + 1)]
    return tags
