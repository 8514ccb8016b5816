"""JSON straight through CPython's C accelerator (``_json``), without importing :mod:`json`.

``import json`` compiles several regular expressions (and imports :mod:`re`) at import time: milliseconds
of cold start that the C scanner and encoder underneath do not need. This module drives them directly
and leaves error wording to the callers' error paths (which may import :mod:`json` or
:mod:`lamina.runtime.json_compat` once something has already gone wrong).
"""

from __future__ import annotations

import _json

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Sequence

_WHITESPACE = " \t\n\r"


class _ScannerContext:
    """The attributes ``_json.make_scanner`` reads: standard JSON, constants decided by the caller."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    def __init__(self, parse_constant: Callable[[str], Any]) -> None:
        self.parse_constant = parse_constant


def make_decoder(parse_constant: Callable[[str], Any]) -> Callable[[str], Any]:
    """A ``loads`` for text; raises ``ValueError`` (or the scanner's own error) on invalid JSON."""
    scan_once = _json.make_scanner(_ScannerContext(parse_constant))  # type: ignore[arg-type]

    def decode(text: str) -> Any:
        size = len(text)
        start = 0
        while start < size and text[start] in _WHITESPACE:
            start += 1
        try:
            value, end = scan_once(text, start)
        except StopIteration:
            raise ValueError("Expecting value") from None
        if end != size and text[end:].strip(_WHITESPACE):
            raise ValueError("Extra data")
        return value

    return decode


def make_encoder(ensure_ascii: bool, default: Callable[[Any], Any]) -> Callable[[Any], str]:
    """A ``dumps``: separators ``", "``/``": "``, NaN and Infinity allowed, circular references refused.

    One C encoder serves every call; its circular-reference markers are empty after a successful
    call, and a failed call (which may leave some behind) gets a fresh encoder next time.
    """
    encode_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring

    def fresh() -> Any:
        return _json.make_encoder({}, default, encode_string, None, ": ", ", ", False, False, True)

    encoders = [fresh()]

    def encode(obj: Any) -> str:
        if obj is None:
            return "null"
        if isinstance(obj, str):
            return encode_string(obj)
        try:
            return "".join(encoders[0](obj, 0))
        except BaseException:
            encoders[0] = fresh()
            raise

    return encode


def encode_with_default(obj: Any, ensure_ascii: bool, default: Callable[[Any], Any]) -> Sequence[str]:
    """One ``dumps`` (same format as :func:`make_encoder`'s) with a per-call ``default`` hook, as the
    pieces the C encoder made (several up to Python 3.11, one from 3.12): joined by the caller, or
    each encoded to UTF-8 and the bytes joined, which never holds a huge ``str`` and its huge UTF-8
    copy at once.

    Encoded first without the circular-reference markers (a dict insertion and deletion per container,
    about a sixth of the encoding time): a cycle then ends in ``RecursionError``, and the call is made
    again with the markers, which raises what simplejson raises (``Circular reference detected``).
    """
    encode_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    pieces: Sequence[str]
    try:
        encoder = _json.make_encoder(None, default, encode_string, None, ": ", ", ", False, False, True)
        pieces = encoder(obj, 0)
    except RecursionError:
        encoder = _json.make_encoder({}, default, encode_string, None, ": ", ", ", False, False, True)
        pieces = encoder(obj, 0)
    return pieces


def encode_string(text: str, ensure_ascii: bool) -> str:
    return (_json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring)(text)


def loads_stdlib_errors(text: str) -> Any:
    """Decode like ``json.loads``; on invalid input raise exactly what ``json.loads`` raises."""
    try:
        return _plain_decode(text)
    except Exception:
        import json

        return json.loads(text)


def _reject(name: str) -> Any:
    raise ValueError(name)


def _stdlib_constant(name: str) -> Any:
    return {"NaN": float("nan"), "Infinity": float("inf"), "-Infinity": float("-inf")}[name]


_plain_decode = make_decoder(_stdlib_constant)
