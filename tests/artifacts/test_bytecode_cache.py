"""Bytecode is compiled once per (interpreter, path on Lambda, source): rebuilds copy it from the cache."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

from lamina.artifacts.bytecode import compile_tree


def _tree(root: Path, source: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "mod.py").write_text(source)
    return root


def _pyc(root: Path) -> Path:
    return Path(importlib.util.cache_from_source(str(root / "pkg" / "mod.py")))


def test_a_rebuild_copies_identical_bytecode_from_the_cache_and_a_changed_source_compiles_anew(
        tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = _tree(tmp_path / "first", "VALUE = 1\n")
    compile_tree(first, sys.executable, "/var/task", cache)
    kept = sorted(cache.rglob("*.pyc"))
    assert len(kept) == 2  # both modules, keyed by their digests
    second = _tree(tmp_path / "second", "VALUE = 1\n")  # same sources, another build directory
    compile_tree(second, sys.executable, "/var/task", cache)
    assert _pyc(second).read_bytes() == _pyc(first).read_bytes()
    assert sorted(cache.rglob("*.pyc")) == kept  # nothing compiled again
    assert int.from_bytes(_pyc(second).read_bytes()[4:8], "little") == 0b01  # unchecked hash (PEP 552)
    changed = _tree(tmp_path / "third", "VALUE = 2\n")
    compile_tree(changed, sys.executable, "/var/task", cache)
    assert len(list(cache.rglob("*.pyc"))) == 3 and _pyc(changed).read_bytes() != _pyc(first).read_bytes()
    other_path = _tree(tmp_path / "fourth", "VALUE = 1\n")
    compile_tree(other_path, sys.executable, "/opt/python", cache)  # tracebacks name /opt/python
    assert _pyc(other_path).read_bytes() != _pyc(first).read_bytes()
