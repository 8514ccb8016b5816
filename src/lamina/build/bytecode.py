"""Bytecode that stays valid in a zip with 1980 timestamps.

A ``.pyc`` normally records its source's mtime; the reproducible zip resets every mtime to 1980, so on
Lambda each such file looks stale, is recompiled on every cold start and never cached (``/opt`` and
``/var/task`` are read-only; aws/aws-lambda-builders#924). Rewriting the header to PEP 552's
"unchecked hash" form makes the interpreter trust the file whatever the mtime. Only used for an
interpreter's own standard library, whose sources never change under it.
"""

from __future__ import annotations

from _imp import source_hash  # importlib's own SipHash of a source file (CPython 3.7+)
from pathlib import Path

_TIMESTAMP = 0
_UNCHECKED_HASH = 0b01  # hash-based, do not check the source


def source_for(pyc: Path) -> Path:
    """``pkg/__pycache__/mod.cpython-312.opt-1.pyc`` -> ``pkg/mod.py``."""
    return pyc.parent.parent / f"{pyc.name.split('.', 1)[0]}.py"


def make_bytecode_unchecked(root: Path) -> int:
    """Turn every timestamp-based ``.pyc`` under ``root`` into an unchecked-hash one; return how many."""
    changed = 0
    for pyc in sorted(root.rglob("__pycache__/*.pyc")):
        data = pyc.read_bytes()
        source = source_for(pyc)
        if len(data) < 16 or int.from_bytes(data[4:8], "little") != _TIMESTAMP or not source.is_file():
            continue
        magic = data[:4]
        # importlib keys the hash with the magic number of the interpreter that reads the file.
        digest = source_hash(int.from_bytes(magic, "little"), source.read_bytes())
        pyc.write_bytes(magic + _UNCHECKED_HASH.to_bytes(4, "little") + digest + data[16:])
        changed += 1
    return changed
