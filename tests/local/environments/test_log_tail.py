"""The log an invocation keeps: the last 4 KB of its lines, in bounded memory."""

from __future__ import annotations

from lamina.local.environments.log_tail import LogTail
from lamina.runtime import protocol


def test_log_tail_is_the_last_bytes_of_the_lines_with_their_newlines() -> None:
    tail = LogTail(16)
    for line in ("START", "a", "bb", "END", "REPORT x"):
        tail.append(line)
    assert tail.value() == b"START\na\nbb\nEND\nREPORT x\n"[-16:]


def test_log_tail_keeps_the_end_of_a_line_longer_than_itself() -> None:
    tail = LogTail(8)
    tail.append("before")
    tail.append("0123456789abcdef")
    assert tail.value() == b"9abcdef\n"
    tail.append("END")
    assert tail.value() == b"def\nEND\n"


def test_log_tail_of_many_lines_stays_within_twice_its_size() -> None:
    tail = LogTail()
    for index in range(100_000):
        tail.append(f"line {index}")
        assert len(tail._buffer) <= 2 * protocol.MAX_LOG_TAIL
    expected = "".join(f"line {index}\n" for index in range(99_000, 100_000)).encode()
    assert tail.value() == expected[-protocol.MAX_LOG_TAIL:]
    assert len(tail.value()) == protocol.MAX_LOG_TAIL


def test_log_tail_counts_bytes_not_characters() -> None:
    tail = LogTail(6)
    tail.append("é" * 10)  # 20 bytes
    assert tail.value() == ("é" * 10 + "\n").encode()[-6:]
