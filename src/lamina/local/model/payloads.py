"""JSON request bodies as Lambda reads them: one parse, and one bound on how deep they may nest.

Lambda's front end (Jackson) refuses documents nested deeper than 1000 levels with
``InvalidRequestContentException``. Python's parser is recursive and gives up near the same depth
with a ``RecursionError``, which must never escape as a server error: every JSON body of the local
Lambda's APIs goes through :func:`parse_json`, and payloads passed on without parsing (AWS's
emulator's path) through :func:`check_depth`. The depth is measured only when a body could be that
deep, so ordinary payloads pay one ``bytes.count`` at most.
"""

from __future__ import annotations

import itertools
import json
import operator
import re
from typing import Any, Union

from lamina.local.model import service_errors as errors

MAX_JSON_DEPTH = 1000  # Jackson's StreamReadConstraints default, which Lambda's front end enforces
_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = re.compile(rb"[^\[\]{}]")
# opening brackets become 2, closing ones 0: depth after byte k is (their running sum) - (k + 1)
_STEPS = bytes.maketrans(b"[{]}", b"\x02\x02\x00\x00")

Body = Union[bytes, str]


def nesting_depth(payload: Body) -> int:
    """How deep arrays and objects nest in ``payload`` (brackets inside strings do not count)."""
    data = payload.encode() if isinstance(payload, str) else payload
    brackets = _NOT_BRACKETS.sub(b"", _STRINGS.sub(b"", data)).translate(_STEPS)
    if not brackets:
        return 0
    depths: map[int] = map(operator.sub, itertools.accumulate(brackets), itertools.count(1))
    return max(depths)


def too_deep(depth: int) -> errors.ServiceError:
    return errors.json_too_deep(depth, MAX_JSON_DEPTH)


def check_depth(payload: Body) -> None:
    """Refuse a payload nested deeper than Lambda allows, without parsing it."""
    data = payload.encode() if isinstance(payload, str) else payload
    if data.count(b"[") + data.count(b"{") > MAX_JSON_DEPTH:
        depth = nesting_depth(data)
        if depth > MAX_JSON_DEPTH:
            raise too_deep(depth)


def parse_json(payload: Body) -> Any:
    """``payload`` parsed, or Lambda's ``InvalidRequestContentException`` (never a RecursionError)."""
    try:
        return json.loads(payload)
    except RecursionError:
        raise too_deep(nesting_depth(payload)) from None
    except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are both ValueErrors
        raise errors.invalid_json(str(exc)) from None
