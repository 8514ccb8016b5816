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
# A few of its strings and numbers are kept a little longer, until the next event is decoded (see
# _pins_from): they keep the allocator's arenas, and so their memory, mapped for that event.
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
        self._pins: List[Any] = []

    def release(self) -> None:
        """Let the last large event go (its objects are freed now unless the function kept them), but
        for the few values that keep its memory for the next one (:func:`_pins_from`)."""
        event, self._large_event = self._large_event, None
        if event is not None:
            self._pins = _pins_from(event)

    def unmarshal_request(self, body: bytes, content_type: Optional[str]) -> Any:
        if self._froze:
            self._thaw()
        self._large_event = None
        try:
            return self._unmarshal(body, content_type)
        finally:
            if self._pins:  # the new event is where their memory went, or it is not needed
                self._pins = []

    def _unmarshal(self, body: bytes, content_type: Optional[str]) -> Any:
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


_PIN_TYPES = frozenset({str, int, float})
_PINS = 512
_PIN_SIZE_LIMIT = 512  # bytes: larger objects are not in the small-object allocator's arenas


def _pins_from(event: Any) -> List[Any]:
    """Up to :data:`_PINS` of ``event``'s strings and numbers, spread evenly over it, to be kept until the
    next event is decoded.

    CPython's allocator returns a 1 MiB arena to the system as soon as its last object is freed, and
    every page of a new one is a page fault when first written: freeing a large event and decoding the
    next one costs thousands of faults (a fifth of a 5 MiB echo). The decoder writes objects in document
    order, so values taken at even steps through the document lie in every arena the event filled; while
    they live, the arenas stay mapped with their pages, and the next event is decoded into them. Only
    small exact ``str``, ``int`` and ``float`` are kept, values no code can watch die (no weak references,
    no ``__del__``), never a container; the memory is what the event had used, held only between
    invocations: once the next event is decoded, whatever it did not reuse goes back to the system.
    The walk is bounded (a handler may have made the event cyclic) and looks at a few thousand objects.
    """
    import gc

    level = [event]
    for _ in range(32):
        if len(level) >= _PINS:
            break
        below = gc.get_referents(*[item for item in level if type(item) in _CONTAINER_TYPES])
        if not below:
            break
        level = below
    pins: List[Any] = []
    for item in level[::-(-len(level) // _PINS)]:
        for _ in range(8):  # down through first values to a string or number
            if type(item) in _PIN_TYPES:
                if sys.getsizeof(item) <= _PIN_SIZE_LIMIT:
                    pins.append(item)
                break
            inner = gc.get_referents(item) if type(item) in _CONTAINER_TYPES else None
            if not inner:
                break
            item = inner[0]
    return pins


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
    The first level of :data:`_PROVE_FROM` objects or more is first handed to :func:`_only_plain_below`:
    one C walk, the pickler's, settles the common case (nothing but plain JSON values from there down) in
    about a third of the time the levels below would take; when it cannot, the scan goes on as if it had
    not been tried, so its answer is the same either way.
    A cyclic result would never run out of levels: past the recursion limit's depth the answer is
    "no", and the C encoder reports the cycle as simplejson does ("Circular reference detected").
    """
    import gc

    if type(obj) not in _CONTAINER_TYPES:
        return isinstance(obj, tuple)
    get_referents = gc.get_referents
    children = get_referents(obj)
    unproven = True
    for _ in range(sys.getrecursionlimit()):
        if not children:
            return False
        if unproven and len(children) >= _PROVE_FROM and _deep_below(children):
            unproven = False
            if _only_plain_below(children):
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


# A level this large is worth the pickler's walk: about a third of the time of the levels below it,
# for the price of one import of _pickle (1-4 ms, once per process, never at start-up).
_PROVE_FROM = 16384
# Values of other types the walk hands to Python (a call each) before it gives up and leaves them to
# the level scan, which types them at C speed: a Decimal-heavy result costs it a fraction of a ms.
_ODD_LEAVES_ALLOWED = 256


def _deep_below(level: List[Any]) -> bool:
    """Whether the first objects of ``level`` hold containers: then (most likely) the scan has values to
    type one by one below it, its costly step, which the pickler's walk does for less. A level of
    scalars, or of containers of scalars only, the scan's next step or two finish sooner."""
    import gc

    return any(type(child) in _CONTAINER_TYPES for child in gc.get_referents(*level[:8]))


def _only_plain_below(level: List[Any]) -> bool:
    """True when nothing reachable from ``level`` through exact dicts, lists, tuples, sets and frozensets
    is an instance of a tuple, list or dict subclass (and at most :data:`_ODD_LEAVES_ALLOWED` values are
    of other types); False when that is not known, which is not to say that it is false.

    The C pickler is the standard library's one walk over a whole structure that tells exact types from
    subclasses: ``None``, ``bool``, ``int``, ``float``, ``str``, ``bytes``, ``bytearray`` and the exact
    containers above go through its fast paths, and every other value, subclass instances included,
    through ``reducer_override`` before anything of its own (``__reduce__``, its class's module) is
    looked at. So no code of the result runs, and the walk visits at least what the encoder descends
    into: True here means :func:`_holds_tuple_subclasses` would answer "no". Fast mode memoises nothing,
    the pickle goes to a file that keeps nothing, and a cycle ends in ``ValueError`` (or a deep result in
    ``RecursionError``): "not known". Two traces are left: a non-ASCII ``str`` keeps the UTF-8 copy the
    pickler asks it for (as long as the string lives), and when the walk stops early Python 3.14 adds
    notes to the discarded exception with the ``repr`` of the dict keys above (its json encoder does the
    same on its errors).
    """
    try:
        _prover()().dump(level)
    except Exception:  # a subclass instance, too many odd leaves, a cycle, no _pickle: the scan decides
        return False
    return True


class _Unproven(Exception):
    pass


def _leaf() -> None:
    """What the pickler writes for a value the encoder does not descend into: memoised up front, so one
    opcode, and never looked up by name."""


_LEAF_REDUCTION = (_leaf, ())


class _Discard:
    """The pickler's file: the walk is wanted, not the bytes (``len`` takes each frame, cheaply)."""

    __slots__ = ()
    write = staticmethod(len)


_PROVERS: List[Any] = []  # the Pickler subclass, defined on first use: _pickle is imported lazily


def _prover() -> Any:
    if not _PROVERS:
        _PROVERS.append(_define_prover())
    return _PROVERS[0]


def _define_prover() -> Any:
    import _pickle

    class Prover(_pickle.Pickler):
        def __init__(self) -> None:
            super().__init__(_Discard(), 5)
            self.fast = True  # no memo: nothing pickled is remembered, and a cycle is an error
            self.memo = {id(_leaf): (0, _leaf)}
            self.odd_leaves_left = _ODD_LEAVES_ALLOWED

        def reducer_override(self, obj: Any) -> Any:
            """Called for every value without a fast path: a leaf for the encoder, unless it is a
            subclass instance (or one odd value too many)."""
            if issubclass(type(obj), (tuple, list, dict)) or not self.odd_leaves_left:
                raise _Unproven
            self.odd_leaves_left -= 1
            return _LEAF_REDUCTION

    return Prover


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
