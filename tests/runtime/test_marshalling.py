"""The large-event path of the marshaller: no collector work left behind, cycles still refused."""

from __future__ import annotations

import collections
import gc
import json

import pytest

from lamina.runtime.errors import FaultError
from lamina.runtime.marshalling import Marshaller

Point = collections.namedtuple("Point", "x y")


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
