"""awslambdaric's JSON decoding rules, for the error path only.

awslambdaric parses events with simplejson; lamina parses them with the standard library's C decoder,
which accepts the same documents except ``NaN``/``Infinity`` and words some errors differently. When
the fast decoder fails (or meets a constant), this module re-reads the text with simplejson's grammar
to produce the exact message awslambdaric would put in ``Runtime.UnmarshalError``. It is imported only
then, so it costs nothing on the hot path.
"""

from __future__ import annotations

import re
from typing import Tuple

_WHITESPACE = " \t\n\r"
_NUMBER = re.compile(r"(-?(?:0|[1-9]\d*))(\.\d+)?([eE][-+]?\d+)?")
_STRING_CHUNK = re.compile(r'(.*?)(["\\\x00-\x1f])', re.DOTALL)
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = frozenset('"\\/bfnrt')


class DecodeError(ValueError):
    """A JSON syntax error worded as simplejson words it."""

    def __init__(self, msg: str, doc: str, pos: int, end: int = -1) -> None:
        msg = msg.replace("%r", repr(doc[pos:pos + 1]))
        line, col = _line_col(doc, pos)
        if end < 0:
            text = f"{msg}: line {line} column {col} (char {pos})"
        else:
            end_line, end_col = _line_col(doc, end)
            text = f"{msg}: line {line} column {col} - line {end_line} column {end_col} (char {pos} - {end})"
        super().__init__(text)


def _line_col(doc: str, pos: int) -> Tuple[int, int]:
    line = doc.count("\n", 0, pos) + 1
    col = pos + 1 if line == 1 else pos - doc.rindex("\n", 0, pos)
    return line, col


def _skip(doc: str, pos: int) -> int:
    while pos < len(doc) and doc[pos] in _WHITESPACE:
        pos += 1
    return pos


def error_message(data: bytes) -> str:
    """The message simplejson gives for ``data``; ``""`` if simplejson would accept it."""
    try:
        doc = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return str(exc)
    try:
        validate(doc)
    except DecodeError as exc:
        return str(exc)
    return ""


def validate(doc: str) -> None:
    """Walk ``doc`` with simplejson's grammar; raise :class:`DecodeError` at its first error."""
    start = 1 if doc[:1] == "\ufeff" else 0
    end = _value(doc, _skip(doc, start))
    end = _skip(doc, end)
    if end != len(doc):
        raise DecodeError("Extra data", doc, end, len(doc))


def _value(doc: str, pos: int) -> int:
    char = doc[pos:pos + 1]
    if char == '"':
        return _string(doc, pos + 1)
    if char == "{":
        return _object(doc, pos + 1)
    if char == "[":
        return _array(doc, pos + 1)
    for word in ("null", "true", "false"):
        if doc.startswith(word, pos):
            return pos + len(word)
    match = _NUMBER.match(doc, pos)
    if match is not None:
        return match.end()
    raise DecodeError("Expecting value", doc, pos)


def _string(doc: str, pos: int) -> int:
    begin = pos - 1
    while True:
        chunk = _STRING_CHUNK.match(doc, pos)
        if chunk is None:
            raise DecodeError("Unterminated string starting at", doc, begin)
        pos = chunk.end()
        terminator = chunk.group(2)
        if terminator == '"':
            return pos
        if terminator != "\\":
            raise DecodeError("Invalid control character %r at", doc, pos - 1)
        if pos >= len(doc):
            raise DecodeError("Unterminated string starting at", doc, begin)
        escape = doc[pos]
        if escape == "u":
            if not _HEX4.fullmatch(doc, pos + 1, pos + 5):
                raise DecodeError("Invalid \\uXXXX escape sequence", doc, pos - 1)
            pos += 5
        elif escape in _ESCAPES:
            pos += 1
        else:
            raise DecodeError("Invalid \\X escape sequence %r", doc, pos)


def _separator(doc: str, pos: int, close: str) -> tuple[int, int]:
    """After a member of an object or array: ``(-1, end)`` if ``close`` ends it, else the comma's
    position and where the next member starts."""
    pos = _skip(doc, pos)
    char = doc[pos:pos + 1]
    if char == close:
        return -1, pos + 1
    if char != ",":
        raise DecodeError(f"Expecting ',' delimiter or '{close}'", doc, pos)
    return pos, _skip(doc, pos + 1)


def _object(doc: str, pos: int) -> int:
    pos = _skip(doc, pos)
    char = doc[pos:pos + 1]
    if char == "}":
        return pos + 1
    if char != '"':
        raise DecodeError("Expecting property name enclosed in double quotes or '}'", doc, pos)
    while True:
        pos = _string(doc, pos + 1)
        pos = _skip(doc, pos)
        if doc[pos:pos + 1] != ":":
            raise DecodeError("Expecting ':' delimiter", doc, pos)
        comma, pos = _separator(doc, _value(doc, _skip(doc, pos + 1)), "}")
        if comma < 0:
            return pos
        char = doc[pos:pos + 1]
        if char != '"':
            if char == "}":
                raise DecodeError("Illegal trailing comma before end of object", doc, comma)
            raise DecodeError("Expecting property name enclosed in double quotes", doc, pos)


def _array(doc: str, pos: int) -> int:
    pos = _skip(doc, pos)
    char = doc[pos:pos + 1]
    if char == "]":
        return pos + 1
    if char == "":
        raise DecodeError("Expecting value or ']'", doc, pos)
    while True:
        comma, pos = _separator(doc, _value(doc, pos), "]")
        if comma < 0:
            return pos
        if doc[pos:pos + 1] == "]":
            raise DecodeError("Illegal trailing comma before end of array", doc, comma)
