"""The large-event path of the marshaller: no collector work left behind, cycles still refused, and the
scan for namedtuples right whichever of its two walks (level by level, or the pickler's) decides."""

from __future__ import annotations

import collections
import decimal
import enum
import gc
import json
import sys
import time
from typing import Any, Iterator, List

import pytest

from lamina.runtime import marshalling
from lamina.runtime.errors import FaultError
from lamina.runtime.marshalling import Marshaller, _holds_tuple_subclasses, _only_plain_below

Point = collections.namedtuple("Point", "x y")
ORIGIN = Point(0, 0)  # reachable from Colour's methods (through their globals): never from a result


# The large-event path (collector paused, event frozen, pins) steps aside when gc.freeze was used before
# (some 3.12.x builds start with objects frozen): what it alone does cannot be seen there.
large_event_path = pytest.mark.skipif(gc.get_freeze_count() != 0, reason="gc.freeze in use: no such path")


class Colour(str, enum.Enum):
    RED = "red"

    def shout(self) -> str:
        return self.value.upper()


@large_event_path
def test_large_event_is_unfrozen_once_the_result_is_marshalled() -> None:
    body = json.dumps({"records": [{"id": n, "tags": ["a"]} for n in range(40_000)]}).encode()
    marshaller = Marshaller()
    event = marshaller.unmarshal_request(body, "application/json")
    assert gc.isenabled()
    event["point"] = Point(1, 2)
    encoded, content_type = marshaller.marshal_response(event)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    assert json.loads(encoded)["point"] == {"x": 1, "y": 2} and content_type == "application/json"


@large_event_path
def test_large_event_is_unfrozen_by_the_next_event_when_the_handler_failed() -> None:
    body = json.dumps(["x" * 10] * 40_000).encode()
    marshaller = Marshaller()
    marshaller.unmarshal_request(body, "application/json")
    marshaller.unmarshal_request(b"{}", "application/json")
    assert gc.get_freeze_count() == 0


def test_cyclic_result_is_a_marshal_error_not_a_hang() -> None:
    cyclic: list = [1]  # type: ignore[type-arg]
    cyclic.append(cyclic)
    with pytest.raises(FaultError, match="Circular reference detected"):
        Marshaller().marshal_response({"k": cyclic})


@large_event_path
def test_large_event_is_held_until_released_then_let_go() -> None:
    body = json.dumps({"records": [{"id": n, "tags": ["a"]} for n in range(40_000)]}).encode()
    marshaller = Marshaller()
    event = marshaller.unmarshal_request(body, "application/json")
    marshaller.marshal_response(event)
    assert _refers_to(marshaller, event)
    marshaller.release()
    assert not _refers_to(marshaller, event)


def _refers_to(owner: object, obj: object) -> bool:
    return any(referrer is owner or referrer is vars(owner) for referrer in gc.get_referrers(obj))


@pytest.fixture(params=["level scan", "pickler walk"])
def walk(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """Runs a test with the scan's pickler walk taken at the first level (however small), or never."""
    monkeypatch.setattr(marshalling, "_PROVE_FROM", 1 if request.param == "pickler walk" else sys.maxsize)
    yield request.param


@pytest.mark.usefixtures("walk")
def test_namedtuple_at_the_deepest_level_is_found() -> None:
    assert _holds_tuple_subclasses({"a": [[1, "x"], [[Point(1, 2)]]]})
    assert _holds_tuple_subclasses([{"k": {"k": collections.OrderedDict(a=1)}}])
    assert not _holds_tuple_subclasses({"a": [[1, "x"], [[(1, 2)]]], "e": [], "d": {}})


@pytest.mark.usefixtures("walk")
def test_enum_members_and_decimals_are_leaves_the_scan_does_not_enter() -> None:
    # Entering a member would lead through its class and methods to module globals (ORIGIN here).
    result = {"colours": [Colour.RED, decimal.Decimal("1.10")], "nested": [[1], {"k": [2]}]}
    assert not _holds_tuple_subclasses(result)
    assert Marshaller({}).to_json(result) == '{"colours": ["red", 1.10], "nested": [[1], {"k": [2]}]}'
    assert _holds_tuple_subclasses({"colours": [Colour.RED], "nested": [[Point(1, 2)]]})


def test_cycle_through_dicts_and_lists_is_a_marshal_error() -> None:
    cyclic: dict = {"records": [{"id": 1}]}  # type: ignore[type-arg]
    cyclic["records"][0]["parent"] = cyclic
    with pytest.raises(FaultError, match="Circular reference detected"):
        Marshaller().marshal_response(cyclic)


def _reference(obj: Any) -> str:
    """awslambdaric's encoding (simplejson, Decimal written raw, NaN allowed)."""
    import simplejson

    encoder = simplejson.JSONEncoder(use_decimal=False, allow_nan=True,
                                     default=lambda o: simplejson.RawJSON(str(o)))
    return encoder.encode(obj)


def _records(count: int) -> List[Any]:
    return [{"id": n, "name": f"item-{n}", "tags": ["a", "b"], "price": 2.5, "ok": n % 2 == 0}
            for n in range(count)]


def _nested(depth: int, leaf: Any) -> Any:
    for level in range(depth):
        leaf = {f"k{level}": leaf, "n": level}
    return leaf


LARGE = 20_000  # records: the level of their values is past _PROVE_FROM, so the pickler walks it


@pytest.mark.usefixtures("walk")
@pytest.mark.parametrize("case", [
    "point deep in a dict value", "point after many decimals", "decimals only", "point under a tuple",
    "odd leaves of every kind",
])
def test_large_results_are_encoded_as_awslambdaric_encodes_them(case: str) -> None:
    result: Any = {"records": _records(LARGE)}
    if case == "point deep in a dict value":
        result["deep"] = _nested(50, Point(1, [decimal.Decimal("2.50")]))
    elif case == "point after many decimals":  # the pickler gives up on the decimals; the levels find it
        result["records"][-1]["tags"] = [decimal.Decimal(n) for n in range(1000)] + [[Point(1, 2)]]
    elif case == "decimals only":
        result["records"] = [decimal.Decimal(n) / 8 for n in range(LARGE)]
    elif case == "point under a tuple":
        result["records"][LARGE // 2]["tags"] = (1, {"k": _nested(50, Point(3, 4))})
    else:
        result["leaves"] = [Colour.RED, b"raw", float("nan"), float("-inf"), decimal.Decimal("NaN"),
                            decimal.Decimal("-0.000"), (1, (2, [3])), 10**30, "\u00e9\U0001f600"]
    assert Marshaller({}).to_json(result) == _reference(result)
    py312 = Marshaller({"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"})
    assert py312.marshal_response(result)[0] == _reference_non_ascii(result).encode("utf-8")


def _reference_non_ascii(obj: Any) -> str:
    import simplejson

    encoder = simplejson.JSONEncoder(use_decimal=False, allow_nan=True, ensure_ascii=False,
                                     default=lambda o: simplejson.RawJSON(str(o)))
    return encoder.encode(obj)


def _large_body() -> bytes:
    return json.dumps({"records": _records(LARGE)}).encode()


def test_mutated_large_event_with_a_namedtuple_comes_out_as_an_object() -> None:
    marshaller = Marshaller({})
    event = marshaller.unmarshal_request(_large_body(), "application/json")
    event["records"][LARGE - 1]["tags"].append({"at": _nested(50, [Point(5, 6)])})
    encoded, _ = marshaller.marshal_response(event)
    assert encoded == _reference(event).encode() and b'{"x": 5, "y": 6}' in encoded


@pytest.mark.usefixtures("walk")
def test_large_cyclic_result_is_still_a_circular_reference() -> None:
    result: Any = {"records": _records(LARGE)}
    result["records"][7]["parent"] = result
    with pytest.raises(FaultError, match="Circular reference detected"):
        Marshaller().marshal_response(result)


@pytest.mark.usefixtures("walk")
def test_namedtuple_inside_a_set_is_still_a_set_that_cannot_be_encoded() -> None:
    result = {"records": _records(LARGE), "odd": {Point(1, 2)}}
    with pytest.raises(FaultError, match="Object of type set is not JSON serializable"):
        Marshaller().marshal_response(result)


def test_pickler_walk_answers_only_for_plain_values() -> None:
    plain = [{"a": [1, 2.5, "s", None, True, (1, (2,))], 1: b"x", None: bytearray(b"y")}, {1, frozenset()},
             Colour.RED, decimal.Decimal("1.1"), time, len, Marshaller, 10**40, "\ud800"]
    assert _only_plain_below(plain)
    cyclic: List[Any] = []
    cyclic.append([cyclic])
    unproven: List[List[Any]] = [
        [{"k": [Point(1, 2)]}], [{(1, Point(1, 2)): 1}], [collections.OrderedDict()], [time.gmtime(0)],
        [collections.defaultdict(list)], [[decimal.Decimal(1)] * 300], [{"k": {Point(1, 2)}}], cyclic,
    ]
    for level in unproven:
        assert not _only_plain_below(level), level


class _Watched:
    """A value whose every pickling hook records that it was called (the walk must call none)."""

    calls: List[str] = []

    def __reduce_ex__(self, protocol: Any) -> Any:
        self.calls.append("__reduce_ex__")
        raise AssertionError("called")

    def __reduce__(self) -> Any:
        self.calls.append("__reduce__")
        raise AssertionError("called")

    def __getstate__(self) -> Any:
        self.calls.append("__getstate__")
        raise AssertionError("called")


def test_pickler_walk_runs_no_code_of_the_values_it_walks() -> None:
    unimported = type("Unimported", (), {"__module__": "lamina_no_such_module"})
    before = set(sys.modules)
    assert _only_plain_below([{"w": _Watched(), "class": unimported, "instance": unimported()}])
    assert _Watched.calls == [] and set(sys.modules) == before


def test_large_plain_event_is_settled_by_one_pickler_walk(monkeypatch: pytest.MonkeyPatch) -> None:
    answers: List[bool] = []

    def spy(level: List[Any]) -> bool:
        answers.append(_only_plain_below(level))
        return answers[-1]

    monkeypatch.setattr(marshalling, "_only_plain_below", spy)
    assert not _holds_tuple_subclasses({"records": _records(LARGE)})
    assert answers == [True]
    assert _holds_tuple_subclasses({"records": _records(LARGE), "p": [Point(1, 2)]})
    assert answers == [True, False]


def test_results_are_right_without_the_pickler(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_pickle() -> Any:
        raise ImportError("No module named '_pickle'")

    monkeypatch.setattr(marshalling, "_prover", no_pickle)
    result: Any = {"records": _records(LARGE), "p": Point(1, 2)}
    assert not _only_plain_below([1]) and Marshaller({}).to_json(result) == _reference(result)


class _Mortal:
    """A value whose end can be watched (a weak reference), unlike a string's or a number's."""


@large_event_path
def test_released_event_leaves_behind_a_sample_of_its_numbers_until_the_next_one() -> None:
    marshaller = Marshaller()
    event = marshaller.unmarshal_request(_large_body(), "application/json")
    marshaller.marshal_response(event)
    marshaller.release()
    pins = marshaller._pins
    assert LARGE // 100 < len(pins) <= marshalling._PINS and {type(pin) for pin in pins} == {int}
    assert min(pins) < LARGE // 10 < LARGE * 9 // 10 < max(pins)  # from all over the event
    marshaller.unmarshal_request(b"raw", "application/octet-stream")
    assert marshaller._pins == []


def test_released_event_leaves_nothing_of_the_function_behind() -> None:
    import weakref

    marshaller = Marshaller()
    event = marshaller.unmarshal_request(_large_body(), "application/json")
    mortal = _Mortal()
    watch = weakref.ref(mortal)
    for index in range(LARGE):
        event["records"][index]["id"] = mortal  # where the sample would find a number first
    event["records"][1]["tags"] = [mortal, (mortal,), {"k": mortal}]
    del mortal
    marshaller.marshal_response({"ok": True})
    marshaller.release()
    assert {type(pin) for pin in marshaller._pins} <= {str, int, float}
    del event
    assert watch() is None


@large_event_path
def test_pins_are_dropped_when_the_next_event_does_not_decode() -> None:
    marshaller = Marshaller()
    marshaller.unmarshal_request(json.dumps(_records(LARGE)).encode(), "application/json")
    marshaller.release()
    assert marshaller._pins
    with pytest.raises(FaultError):
        marshaller.unmarshal_request(b"{not json", "application/json")
    assert marshaller._pins == []


@large_event_path
def test_released_event_made_cyclic_by_the_function_is_sampled_in_bounded_time() -> None:
    marshaller = Marshaller()
    event = marshaller.unmarshal_request(json.dumps({"a": [2.5] * 100_000}).encode(), "application/json")
    event["self"] = event
    event["loop"] = [event, [event]]
    marshaller.release()
    assert marshaller._pins and {type(pin) for pin in marshaller._pins} == {float}
    event.clear()


def test_only_small_values_are_pinned() -> None:
    marshaller = Marshaller()
    marshaller.unmarshal_request(json.dumps(["x" * 1000] * 300).encode(), "application/json")
    marshaller.release()
    assert marshaller._pins == []  # a long string is not in an arena: keeping it would keep nothing else
