"""The large-event path of the marshaller: no collector work left behind, cycles still refused."""

from __future__ import annotations

import collections
import decimal
import enum
import gc
import json

import pytest

from lamina.runtime.errors import FaultError
from lamina.runtime.marshalling import Marshaller, _holds_tuple_subclasses

Point = collections.namedtuple("Point", "x y")
ORIGIN = Point(0, 0)  # reachable from Colour's methods (through their globals): never from a result


class Colour(str, enum.Enum):
    RED = "red"

    def shout(self) -> str:
        return self.value.upper()


def test_large_event_is_unfrozen_once_the_result_is_marshalled() -> None:
    body = json.dumps({"records": [{"id": n, "tags": ["a"]} for n in range(40_000)]}).encode()
    marshaller = Marshaller()
    event = marshaller.unmarshal_request(body, "application/json")
    assert gc.isenabled()
    event["point"] = Point(1, 2)
    encoded, content_type = marshaller.marshal_response(event)
    assert gc.get_freeze_count() == 0 and gc.isenabled()
    assert json.loads(encoded)["point"] == {"x": 1, "y": 2} and content_type == "application/json"


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


def test_namedtuple_at_the_deepest_level_is_found() -> None:
    assert _holds_tuple_subclasses({"a": [[1, "x"], [[Point(1, 2)]]]})
    assert _holds_tuple_subclasses([{"k": {"k": collections.OrderedDict(a=1)}}])
    assert not _holds_tuple_subclasses({"a": [[1, "x"], [[(1, 2)]]], "e": [], "d": {}})


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
