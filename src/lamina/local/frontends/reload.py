"""Hot reload: when files under a function's code directory change, recycle its environments.

The next invocation is then a cold start with the new code, as after an UpdateFunctionCode; invocations
already running finish on the old environment first (that is the ``recycle`` hook's contract, which
the local Lambda implements by retiring the function's pool). Which functions a change touches is
pure (:func:`functions_for_changes`); :func:`watch_code` only waits on watchfiles.
"""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import logging
from collections.abc import Awaitable, Iterable, Mapping
from pathlib import Path
from typing import Callable, Optional, Union

from watchfiles import Change, awatch

__all__ = ["drop_stale_bytecode", "functions_for_changes", "is_code_change", "watch_code"]

log = logging.getLogger("lamina.reload")
Recycle = Callable[[str], Union[Awaitable[None], None]]

# Caches, VCS metadata, virtualenvs and lamina's own data directory (its queue is written constantly).
_IGNORED_PARTS = frozenset({"__pycache__", ".git", ".mypy_cache", ".pytest_cache", ".ruff_cache",
                            "node_modules", ".venv", "venv", ".tox", ".cache", ".lamina"})
# Also what functions and lamina write while running: logs, destination records, SQLite files.
_IGNORED_SUFFIXES = (".pyc", ".pyo", ".swp", ".swx", "~", ".tmp", "-wal", "-shm", "-journal", ".log",
                     ".jsonl", ".ndjson", ".sqlite3", ".sqlite", ".db")


def is_code_change(path: str) -> bool:
    """Whether a changed path is code (not bytecode caches, editor swap files or VCS metadata)."""
    parts = Path(path).parts
    return not (set(parts) & _IGNORED_PARTS) and not path.endswith(_IGNORED_SUFFIXES)


def functions_for_changes(changes: Iterable[tuple[Change, str]], code_dirs: Mapping[str, Path]) -> set[str]:
    """The functions whose code directory contains a changed code file."""
    touched: set[str] = set()
    for _, changed in changes:
        if not is_code_change(changed):
            continue
        path = Path(changed)
        for name, directory in code_dirs.items():
            if path == directory or directory in path.parents:
                touched.add(name)
    return touched


def drop_stale_bytecode(changes: Iterable[tuple[Change, str]]) -> None:
    """Delete the cached bytecode of changed ``.py`` files.

    A ``.pyc`` is trusted when the source's size and mtime *in whole seconds* match, so an edit that
    keeps the size within the same second would otherwise be run as the old code by the new
    environment.
    """
    for _, changed in changes:
        path = Path(changed)
        if path.suffix != ".py":
            continue
        for cached in path.parent.glob(f"__pycache__/{path.stem}.*.pyc"):
            with contextlib.suppress(OSError):
                cached.unlink()


def _filter(change: Change, path: str) -> bool:
    return is_code_change(path)


async def watch_code(code_dirs: Mapping[str, Path], recycle: Recycle, *,
                     stop_event: Optional[asyncio.Event] = None, debounce_ms: int = 50) -> None:
    """Call ``recycle(name)`` for each function whose code changed, until ``stop_event`` is set."""
    dirs = {name: Path(d).resolve() for name, d in code_dirs.items()}
    existing = {name: d for name, d in dirs.items() if d.is_dir()}
    for name in sorted(set(dirs) - set(existing)):
        log.warning("not watching %s: code directory %s does not exist", name, dirs[name])
    roots = sorted({str(d) for d in existing.values()})
    if not roots:
        return
    async for changes in awatch(*roots, watch_filter=_filter, debounce=debounce_ms, step=20,
                                stop_event=stop_event):
        drop_stale_bytecode(changes)
        for name in sorted(functions_for_changes(changes, existing)):
            log.info("%s: code changed, recycling its execution environments", name)
            try:
                result = recycle(name)
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("%s: recycling after a code change failed", name)
