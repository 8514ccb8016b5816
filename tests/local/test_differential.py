"""awslambdaric under AWS's emulator vs awslambdaric under ``lamina serve``, on the emulator's fixed
path: every invocation must get the same status and body (request ids aside)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Callable

import pytest

from tests.local.local_helpers import (
    FUNCTIONS,
    RIC,
    RIC_BOOTSTRAP,
    RUNTIMES,
    lamina_serve,
    without_request_id,
)

# (handler, timeout in seconds, [(payload, headers)]) — invoked in order on one server of each kind.
CASES: dict[str, tuple[str, int, list[tuple[bytes, dict[str, str]]]]] = {
    "echo": ("handlers.echo", 3, [(b'{"a": [1, 2, "three"]}', {}), (b"[]", {}), (b'"text"', {}),
                                  (b"null", {}), ("{\"unicode\": \"h\u00e9\u2603\"}".encode(), {})]),
    "non_json_event": ("handlers.echo", 3, [(b"{not json", {})]),
    "handler_raises": ("handlers.fail", 3, [(b"{}", {}), (b"{}", {})]),
    "large_response_under_limit": ("handlers.big", 3, [(b'{"size": 1000000}', {})]),
    "client_context": ("handlers.context_info", 3, [
        (b"{}", {"X-Amz-Client-Context": base64.b64encode(b'{"custom":{"k":"v"}}').decode()})]),
    "runtime_exits_then_recovers": ("handlers.crash", 3, [(b'{"code": 3}', {}), (b'{"code": 0}', {})]),
    "runtime_killed": ("handlers.kill_self", 3, [(b"{}", {}), (b"{}", {})]),
    "init_failure": ("broken_import.handler", 3, [(b"{}", {}), (b"{}", {})]),
    "missing_module": ("no_such_module.handler", 3, [(b"{}", {})]),
    "missing_handler": ("handlers.no_such_function", 3, [(b"{}", {})]),
    "timeout": ("handlers.sleep", 1, [(b'{"seconds": 3}', {}), (b'{"seconds": 0}', {})]),
    # the emulator cuts a payload at 6291556 bytes; the runtime then fails to parse it
    "request_over_limit": ("handlers.echo", 3, [(b'"' + b"x" * 7_000_000 + b'"', {}), (b"{}", {})]),
    "invocation_type_ignored": ("handlers.echo", 3, [(b"[1]", {"X-Amz-Invocation-Type": "Event"}),
                                                     (b"[2]", {"X-Amz-Invocation-Type": "DryRun"})]),
}


def _comparable(handler: str) -> Callable[[bytes], object]:
    def normalize(body: bytes) -> object:
        try:
            parsed = without_request_id(body)
        except ValueError:
            return body
        if handler == "handlers.context_info" and isinstance(parsed, dict):
            # Differs by design between two servers: ids, pids, deadlines, names AWS's emulator invents.
            return parsed["client_custom"]
        return parsed
    return normalize


@pytest.mark.parametrize("case", sorted(CASES))
def test_same_status_and_body_as_awss_emulator(case: str, emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    handler, timeout, invocations = CASES[case]
    emulator = emulator_factory([*RIC, handler], FUNCTIONS, {"AWS_LAMBDA_FUNCTION_TIMEOUT": str(timeout)})
    normalize = _comparable(handler)
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", handler, "--bootstrap", RIC_BOOTSTRAP,
                       "--timeout", str(timeout)], tmp_path) as lamina:
        for payload, headers in invocations:
            expected = emulator.invoke(payload, headers)
            actual = lamina.invoke_fixed(payload, headers)
            assert (actual.status, normalize(actual.body)) == (expected.status, normalize(expected.body)), (
                f"{case}: emulator {expected.status} {expected.body[:300]!r}, "
                f"lamina {actual.status} {actual.body[:300]!r}")


@pytest.mark.parametrize("runtime", ["garbage.py", "probe.py"])
def test_runtime_api_answers_a_misbehaving_runtime_as_awss_emulator_does(  # type: ignore[no-untyped-def]
        runtime: str, emulator_factory, tmp_path: Path) -> None:
    command = [sys.executable, str(RUNTIMES / runtime)]
    emulator = emulator_factory([*command, "x.y"], RUNTIMES)
    with lamina_serve(["--code", str(RUNTIMES), "--handler", "x.y", "--bootstrap", " ".join(command)],
                      tmp_path) as lamina:
        payloads = (b"{}", b"{}", b'{"garbage": true}') if runtime == "garbage.py" else (b"{}", b"{}")
        for payload in payloads:
            expected, actual = emulator.invoke(payload), lamina.invoke_fixed(payload)
            if expected.body.startswith(b'{"seen"'):
                # lamina also sends Lambda's trace and invocation-id headers, which the emulator omits
                for result in (expected, actual):
                    report = json.loads(result.body)
                    report["next_headers"] = [name for name in report["next_headers"]
                                              if name not in ("lambda-runtime-invocation-id",)]
                    result.body = json.dumps(report).encode()
            assert (actual.status, actual.body) == (expected.status, expected.body)


def test_response_over_limit_fails_like_awss_emulator(emulator_factory, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    payload = json.dumps({"size": 6291556}).encode()  # a JSON string of that many chars, plus quotes
    emulator = emulator_factory([*RIC, "handlers.big"], FUNCTIONS)
    expected = emulator.invoke(payload)
    with lamina_serve(["--code", str(FUNCTIONS), "--handler", "handlers.big", "--bootstrap", RIC_BOOTSTRAP],
                      tmp_path) as lamina:
        actual = lamina.invoke_fixed(payload)
        assert json.loads(actual.body) == json.loads(expected.body)
        assert json.loads(actual.body)["errorType"] == "Function.ResponseSizeTooLarge"
        assert lamina.invoke_fixed(b'{"size": 3}').body == b'"xxx"'
