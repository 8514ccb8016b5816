"""A runtime's output split into log lines: constant work per byte, lines cut at Lambda's event limit."""

from __future__ import annotations

from lamina.local.sandbox.process import MAX_LINE_BYTES, LineSplitter


def _splitter(limit: int = MAX_LINE_BYTES) -> tuple[LineSplitter, list[bytes]]:
    lines: list[bytes] = []
    return LineSplitter(lines.append, limit), lines


def test_lines_split_across_chunks_come_out_whole_without_newlines_or_carriage_returns() -> None:
    splitter, lines = _splitter()
    for chunk in (b"hel", b"lo\r\nwor", b"ld\n\n", b"tail"):
        splitter.feed(chunk)
    assert lines == [b"hello", b"world", b""]
    splitter.flush()
    assert lines == [b"hello", b"world", b"", b"tail"]


def test_a_line_longer_than_the_limit_is_cut_into_events_of_the_limit() -> None:
    splitter, lines = _splitter(limit=4)
    splitter.feed(b"abcdefghij\nxy")
    assert lines == [b"abcd", b"efgh", b"ij"]
    splitter.feed(b"z" * 9)  # no newline yet: full events go out, the rest waits
    assert lines[3:] == [b"xyzz", b"zzzz"]
    splitter.flush()
    assert lines[5:] == [b"zzz"]


def test_megabytes_without_a_newline_keep_at_most_one_event_pending() -> None:
    splitter, lines = _splitter()
    chunk = b"x" * 65536
    for _ in range(24 * 16):  # 24 MiB, as a runtime printing without a newline would write it
        splitter.feed(chunk)
        assert len(splitter._partial) <= MAX_LINE_BYTES
    assert sum(map(len, lines)) + len(splitter._partial) == 24 * 1024 * 1024
    assert all(len(line) == MAX_LINE_BYTES for line in lines)
