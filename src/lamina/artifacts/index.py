"""What the package index publishes for a project: the evidence behind "no wheel fits Lambda".

uv says only that a requirement "has no usable wheels". Whether that is because the project ships no
wheels at all, because this version has none for Lambda's CPython, or because its wheels need a newer
glibc than the target OS has (AL2's 2.26 against a ``manylinux_2_28`` wheel) decides what the user should
do, so the index's file list (PEP 691 JSON) is read and every wheel name matched against the target's
tags.
"""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.tags import Tag, compatible_tags, cpython_tags
from packaging.utils import InvalidWheelFilename, canonicalize_name, parse_wheel_filename
from packaging.version import Version

from lamina.artifacts.targets import wheel_platforms

DEFAULT_INDEX = "https://pypi.org/simple"
NEWEST_GLIBC = 40  # the highest manylinux level looked at when asking "would a newer glibc help?"


class IndexUnreachable(Exception):
    """The index could not be asked (network, proxy, a wrong URL)."""


def index_url() -> str:
    """The index uv uses: ``UV_DEFAULT_INDEX``/``UV_INDEX_URL`` (or pip's variable), else PyPI."""
    for variable in ("UV_DEFAULT_INDEX", "UV_INDEX_URL", "PIP_INDEX_URL"):
        if os.environ.get(variable):
            return os.environ[variable].rstrip("/")
    return DEFAULT_INDEX


def project_files(name: str, timeout: float = 30) -> list[str] | None:
    """The file names the index lists for ``name``; ``None`` when the index does not know it."""
    url = f"{index_url()}/{canonicalize_name(name)}/"
    request = urllib.request.Request(url, headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            document = json.loads(response.read())
    except urllib.error.HTTPError as exc:
        if exc.code == 404:
            return None
        raise IndexUnreachable(f"{url}: HTTP {exc.code}") from None
    except (OSError, ValueError) as exc:
        raise IndexUnreachable(f"{url}: {exc}") from None
    return [str(item["filename"]) for item in document.get("files", []) if not item.get("yanked")]


def target_tags(python_version: str, platforms: list[str]) -> frozenset[Tag]:
    """The wheel tags CPython ``python_version`` accepts on ``platforms`` (as pip and uv compute them)."""
    version = tuple(int(part) for part in python_version.split("."))
    return frozenset([*cpython_tags(version, platforms=platforms),
                      *compatible_tags(version, interpreter=f"cp{version[0]}{version[1]}",
                                       platforms=platforms)])


@dataclass(frozen=True)
class WheelFit:
    """Which versions of a project have a wheel for the target, and which only for a newer glibc."""

    has_wheels: bool
    loadable: tuple[Version, ...]  # versions with a wheel the target loads, oldest first
    newer_glibc: tuple[Version, ...]  # versions whose only Linux wheels need a newer glibc

    def matching(self, specifier: str) -> tuple[tuple[Version, ...], tuple[Version, ...]]:
        """(loadable, newer-glibc-only) versions within ``specifier`` (e.g. ``==2.3.0``)."""
        try:
            spec = SpecifierSet(specifier)
        except InvalidSpecifier:
            spec = SpecifierSet()
        return (tuple(v for v in self.loadable if spec.contains(v, prereleases=True)),
                tuple(v for v in self.newer_glibc if spec.contains(v, prereleases=True)))


def wheel_fit(filenames: Iterable[str], arch: str, os_name: str, python_version: str) -> WheelFit:
    """Sort a project's wheels into loadable on the target, loadable only with a newer glibc, neither."""
    loadable_tags = target_tags(python_version, wheel_platforms(arch, os_name))
    newer_tags = target_tags(python_version, wheel_platforms(arch, os_name, NEWEST_GLIBC)) - loadable_tags
    loadable: set[Version] = set()
    newer: set[Version] = set()
    has_wheels = False
    for filename in filenames:
        if not filename.endswith(".whl"):
            continue
        has_wheels = True
        try:
            _, version, _, tags = parse_wheel_filename(filename)
        except InvalidWheelFilename:
            continue
        if tags & loadable_tags:
            loadable.add(version)
        elif tags & newer_tags:
            newer.add(version)
    return WheelFit(has_wheels, tuple(sorted(loadable)), tuple(sorted(newer - loadable)))
