"""Hot reload: which functions a change touches, and the watcher calling the recycle hook."""

from __future__ import annotations

import asyncio
from pathlib import Path

from watchfiles import Change

from lamina.local.frontends.reload import drop_stale_bytecode, functions_for_changes, watch_code


def test_changes_map_to_the_functions_whose_code_dir_holds_them(tmp_path: Path) -> None:
    dirs = {"a": tmp_path / "a", "b": tmp_path / "b", "shared": tmp_path}
    changes = [(Change.modified, str(tmp_path / "a" / "app.py")),
               (Change.added, str(tmp_path / "b" / "__pycache__" / "app.cpython-311.pyc"))]
    assert functions_for_changes(changes, dirs) == {"a", "shared"}


def test_bytecode_editor_files_logs_and_records_are_not_code_changes(tmp_path: Path) -> None:
    changes = [(Change.modified, str(tmp_path / "app.py.swp")), (Change.added, str(tmp_path / "x.pyc")),
               (Change.modified, str(tmp_path / "run.log")), (Change.added, str(tmp_path / "failed.jsonl"))]
    assert functions_for_changes(changes, {"f": tmp_path}) == set()


def test_editing_a_handler_file_calls_recycle_for_its_function(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    handler = tmp_path / "a" / "app.py"
    handler.write_text("def handler(event, context):\n    return 1\n")
    recycled: list[str] = []

    async def scenario() -> None:
        stop = asyncio.Event()
        done = asyncio.Event()

        async def recycle(name: str) -> None:
            recycled.append(name)
            done.set()

        watcher = asyncio.create_task(watch_code({"a": tmp_path / "a", "b": tmp_path / "b"}, recycle,
                                                 stop_event=stop))
        for attempt in range(20):  # rewrite until seen: the watch may still be setting up
            handler.write_text(f"def handler(event, context):\n    return {attempt}\n")
            try:
                await asyncio.wait_for(done.wait(), 0.5)
                break
            except asyncio.TimeoutError:
                continue
        assert done.is_set()
        stop.set()
        await asyncio.wait_for(watcher, 10)

    asyncio.run(scenario())
    assert set(recycled) == {"a"}


def test_cached_bytecode_of_a_changed_source_is_dropped(tmp_path: Path) -> None:
    cache = tmp_path / "__pycache__"
    cache.mkdir()
    (cache / "app.cpython-311.pyc").write_bytes(b"stale")
    (cache / "other.cpython-311.pyc").write_bytes(b"kept")
    drop_stale_bytecode([(Change.modified, str(tmp_path / "app.py"))])
    assert [p.name for p in cache.iterdir()] == ["other.cpython-311.pyc"]
