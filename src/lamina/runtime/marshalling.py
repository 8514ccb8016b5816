"""Events in, results out: awslambdaric's serialisation rules on the standard library's C JSON codec.

The rules (observable, so they must match awslambdaric byte for byte):
- the event is parsed as JSON only when ``Content-Type`` is exactly ``application/json``; otherwise the
  handler gets the raw bytes;
- a ``bytes`` result goes out as-is with ``application/unknown``;
- everything else is JSON with separators ``", "``/``": "``, NaN and Infinity allowed, non-ASCII
  escaped except on the python3.12+ managed runtimes, ``Decimal`` written raw (``1.10``, NaN → ``NaN``),
  namedtuples as objects and ``bytes`` inside a structure decoded as UTF-8 (simplejson's behaviour).
"""

from __future__ import annotations

import os
import sys

from lamina.runtime import error_types, fastjson
from lamina.runtime.errors import FaultError

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Any, Dict, List, Optional, Sequence, Tuple


_NON_ASCII_ENVS = frozenset({
    "AWS_Lambda_python3.12",
    "AWS_Lambda_python3.13",
    "AWS_Lambda_python3.14",
    "AWS_Lambda_python3.15",
})
_SCALARS = (str, int, float, bool, type(None))
# Above this size an event's objects are kept out of the cyclic garbage collector's way for the
# invocation: a JSON document cannot hold a cycle, yet its hundreds of thousands of new objects would
# trigger collection after collection, each walking them all (more than half the decode time at
# 5 MiB, and again while the result is encoded). They are decoded with collection paused, then moved
# to the permanent generation (``gc.freeze``, a list splice) until the result is marshalled; objects
# created meanwhile are collected as usual. Skipped when the function uses ``gc.freeze`` itself.
# Such an event is also kept until the request for the next one is on its way (see
# :meth:`Marshaller.release`): freeing its objects takes milliseconds the Runtime API spends anyway.
_PAUSE_GC_ABOVE = 256 * 1024


class _RawDecimals:
    """Lets the C encoder emit Decimals verbatim: each becomes a unique placeholder string, swapped
    for the number's text after encoding. The placeholder carries a per-process random token, so no
    string a handler returns can be mistaken for one."""

    def __init__(self, token: str) -> None:
        self.token = token
        self.values: List[str] = []

    def placeholder(self, text: str) -> str:
        self.values.append(text)
        return f"{self.token}{len(self.values) - 1}\u0000"

    def default(self, obj: Any) -> Any:
        """The C encoder's hook for types it does not know: Decimal and bytes the simplejson way."""
        if isinstance(obj, bytes):
            return obj.decode("utf-8")
        decimal = sys.modules.get("decimal")
        if decimal is not None and isinstance(obj, decimal.Decimal):
            return float("nan") if obj.is_nan() else self.placeholder(str(obj))
        return _unsupported(obj)

    def substitute(self, encoded: str, quoted_token: str) -> str:
        import re

        pattern = re.compile('"' + re.escape(quoted_token) + r'(\d+)\\u0000"')
        return pattern.sub(lambda match: self.values[int(match.group(1))], encoded)


def _unsupported(obj: Any) -> Any:
    raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")


class Marshaller:
    """Turns request bodies into events and handler results into response bodies."""

    def __init__(self, environ: Optional[Dict[str, str]] = None) -> None:
        env = os.environ if environ is None else environ
        self.ensure_ascii = env.get("AWS_EXECUTION_ENV") not in _NON_ASCII_ENVS
        self._encode = fastjson.make_encoder(self.ensure_ascii, _unsupported)
        self._decode = fastjson.make_decoder(_reject_constant)
        self._decimal_token = "\u0000lamina-decimal-" + os.urandom(8).hex() + ":"  # drawn once
        self._froze = False
        self._large_event: Any = None

    def release(self) -> None:
        """Let the last large event go (its objects are freed now unless the function kept them)."""
        self._large_event = None

    def unmarshal_request(self, body: bytes, content_type: Optional[str]) -> Any:
        if self._froze:
            self._thaw()
        self._large_event = None
        if content_type != "application/json":
            return body
        try:
            text = body.decode("utf-8")
            if text[:1] == "\ufeff":
                text = text[1:]
            if len(body) < _PAUSE_GC_ABOVE:
                return self._decode(text)
            return self._decode_out_of_gc(text)
        except Exception as exc:
            from lamina.runtime import json_compat

            message = json_compat.error_message(body) or str(exc)
            raise FaultError(error_types.UNMARSHAL_ERROR, f"Unable to unmarshal input: {message}") from None

    def marshal_response(self, result: Any) -> Tuple[bytes, str]:
        try:
            if isinstance(result, bytes):
                return result, "application/unknown"
            try:
                pieces = self._to_json_pieces(result)
                if len(pieces) == 1:
                    return pieces[0].encode("utf-8"), "application/json"
                return b"".join([piece.encode("utf-8") for piece in pieces]), "application/json"
            except Exception as exc:
                raise FaultError(error_types.MARSHAL_ERROR, f"Unable to marshal response: {exc}") from None
        finally:
            if self._froze:
                self._thaw()

    def _decode_out_of_gc(self, text: str) -> Any:
        import gc

        if not gc.isenabled() or gc.get_freeze_count():
            return self._decode(text)
        gc.disable()
        try:
            event = self._decode(text)
            gc.freeze()
            self._froze = True
        finally:
            gc.enable()
        self._large_event = event
        return event

    def _thaw(self) -> None:
        import gc

        self._froze = False
        gc.unfreeze()

    def to_json(self, obj: Any) -> str:
        """Encode ``obj`` as awslambdaric does; raises what simplejson would raise."""
        return "".join(self._to_json_pieces(obj))

    def _to_json_pieces(self, obj: Any) -> Sequence[str]:
        """:meth:`to_json`'s text, in the pieces the C encoder made it in (see fastjson)."""
        if type(obj) in _SCALARS:
            return (self._encode(obj),)
        decimals = _RawDecimals(self._decimal_token)
        pieces: Optional[Sequence[str]] = None
        if not _holds_tuple_subclasses(obj):
            try:  # the C encoder alone: the common case, no walk over the result in Python
                pieces = fastjson.encode_with_default(obj, self.ensure_ascii, decimals.default)
            except TypeError:  # bytes keys, or a real error: the exact path decides
                decimals = _RawDecimals(self._decimal_token)
        if pieces is None:
            pieces = (self._encode(_prepare(obj, decimals)),)
        if decimals.values:
            quoted = fastjson.encode_string(decimals.token, self.ensure_ascii)[1:-1]
            pieces = (decimals.substitute("".join(pieces), quoted),)
        return pieces


class _ConstantRejected(ValueError):
    pass


def _reject_constant(name: str) -> Any:
    raise _ConstantRejected(name)


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None), dict, list, tuple, bytes})
_CONTAINER_TYPES = frozenset({dict, list, tuple})
_HAVE_GC = 1 << 14  # Py_TPFLAGS_HAVE_GC: instances of the type can hold references


def _holds_tuple_subclasses(obj: Any) -> bool:
    """Whether ``obj`` holds a namedtuple or other tuple, list or dict subclass, which the C encoder
    would write as a list (or without ``_asdict``) where simplejson writes an object.

    Breadth-first over what the encoder descends into (dicts, lists, tuples), one level at a time with
    ``gc.get_referents`` and C-level passes, so even a multi-megabyte result is scanned without a
    Python loop per element. Two shortcuts keep it to one look at most objects:
    - a level whose objects have no referents at all is not looked at: it is made of scalars and empty
      containers, and no subclass instance hides there, because an instance of a class defined in
      Python (every namedtuple) always refers to its class;
    - other objects (``Decimal``, enum members, anything the encoder calls ``default`` for) are leaves
      for the encoder: the scan does not descend into them either, so it never wanders from a value into
      its class and module.
    A cyclic result would never run out of levels: past the recursion limit's depth the answer is
    "no", and the C encoder reports the cycle as simplejson does ("Circular reference detected").
    """
    import gc

    if type(obj) not in _CONTAINER_TYPES:
        return isinstance(obj, tuple)
    get_referents = gc.get_referents
    children = get_referents(obj)
    for _ in range(sys.getrecursionlimit()):
        if not children:
            return False
        grandchildren = get_referents(*children)  # skips, at C speed, objects that hold no references
        if not grandchildren:
            return False
        odd = set(map(type, children)) - _PLAIN_TYPES
        if odd:
            if any(issubclass(kind, (tuple, list, dict)) for kind in odd):
                return True
            if any(kind.__flags__ & _HAVE_GC for kind in odd):  # e.g. enum members, Decimal on 3.13+
                children = [child for child in children if type(child) in _CONTAINER_TYPES]
                grandchildren = get_referents(*children)
        children = grandchildren
    return False


def _prepare(obj: Any, decimals: _RawDecimals) -> Any:
    """Rewrite the few values the C encoder cannot express the simplejson way.

    Returns ``obj`` itself (no copy) when nothing needs rewriting, which is the common case; the walk
    only visits containers.
    """
    kind = type(obj)
    if kind is dict:
        changed: Optional[Dict[Any, Any]] = None
        for key, value in obj.items():
            new_key = key if type(key) is str else _prepare_key(key)
            new_value = value if type(value) in _SCALARS else _prepare(value, decimals)
            if changed is None and (new_key is not key or new_value is not value):
                changed = {}
                for k, v in obj.items():
                    if k is key:
                        break
                    changed[k] = v
            if changed is not None:
                changed[new_key] = new_value
        return obj if changed is None else changed
    if kind is list or kind is tuple:
        items: Optional[List[Any]] = None
        for index, value in enumerate(obj):
            new_value = value if type(value) in _SCALARS else _prepare(value, decimals)
            if items is None and new_value is not value:
                items = list(obj[:index])
            if items is not None:
                items.append(new_value)
        return obj if items is None else items
    if kind in _SCALARS:
        return obj
    if isinstance(obj, tuple) and hasattr(obj, "_asdict"):
        return _prepare(dict(obj._asdict()), decimals)
    if isinstance(obj, dict):
        return _prepare(dict(obj), decimals)
    if isinstance(obj, (list, tuple)):
        return _prepare(list(obj), decimals)
    if isinstance(obj, bytes):
        return obj.decode("utf-8")
    decimal = sys.modules.get("decimal")  # no Decimal can exist before the module is imported
    if decimal is not None and isinstance(obj, decimal.Decimal):
        if obj.is_nan():
            return float("nan")
        return decimals.placeholder(str(obj))
    return obj  # str/int/float subclasses and unsupported types: the encoder decides


def _prepare_key(key: Any) -> Any:
    if isinstance(key, bytes):
        return key.decode("utf-8")
    if isinstance(key, _SCALARS):
        return key
    raise TypeError(f"keys must be str, int, float, bool or None, not {type(key).__name__}")
