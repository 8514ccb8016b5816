"""lamina's runtime and awslambdaric 4.2.2 side by side under AWS's own emulator: same answers, byte for byte.

Each case starts AWS's Runtime Interface Emulator twice, once with ``python -m awslambdaric HANDLER`` and
once with ``python -m lamina.runtime HANDLER``, sends the same invocations, and compares status and body
(with errorType, errorMessage and stackTrace) after masking the per-invocation request ids. The function's
own log lines (stdout, without the emulator's lines) are compared too, with timestamps masked.
"""

from __future__ import annotations

import base64
import json
import re
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import pytest

FUNCTIONS = Path(__file__).parent / "functions"
AWSLAMBDARIC = [sys.executable, "-m", "awslambdaric"]
LAMINA = [sys.executable, "-m", "lamina.runtime"]

_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?Z")
_EPOCH_MS = re.compile(r"\[\d{13}\]")

Invocation = Tuple[bytes, Dict[str, str]]


def _client_context(value: object) -> Dict[str, str]:
    raw = value if isinstance(value, bytes) else json.dumps(value).encode()
    return {"X-Amz-Client-Context": base64.b64encode(raw).decode()}


def _mask(text: str) -> str:
    return _EPOCH_MS.sub("[<ms>]", _TIMESTAMP.sub("<ts>", _UUID.sub("<uuid>", text)))


def _function_log_lines(log: str) -> List[str]:
    """The function's own output from the emulator's log: without the emulator's lines."""
    kept = []
    for line in log.splitlines():
        if "(rapid)" in line or line.startswith(("START RequestId", "END RequestId", "REPORT RequestId")):
            continue
        kept.append(_mask(line))
    return kept


def _run(emulator_factory, command: List[str], handler: str, invocations: List[Invocation],
         env: Optional[Dict[str, str]]) -> Tuple[List[Tuple[int, str]], List[str]]:
    emulator = emulator_factory([*command, handler], FUNCTIONS, env)
    answers = []
    for payload, headers in invocations:
        result = emulator.invoke(payload, headers)
        answers.append((result.status, _mask(result.body.decode("utf-8", "replace"))))
    time.sleep(0.1)  # let the last log lines reach the emulator's output
    return answers, _function_log_lines(emulator.logs())


EVENT: Invocation = (b'{"k": [1, 2.5, "x", null, true], "price": "\\u00a3"}', {})
PY312 = {"AWS_EXECUTION_ENV": "AWS_Lambda_python3.12"}

CASES: Dict[str, Tuple[str, List[Invocation], Optional[Dict[str, str]]]] = {
    "echo_returns_event_as_json": ("app.echo", [EVENT, (b"[]", {}), (b'"s"', {}), (b"1.50", {})], None),
    "echo_non_ascii_is_escaped": ("app.echo", [('{"p": "£"}'.encode(), {})], None),
    "echo_non_ascii_raw_on_python312_env": ("app.unicode", [EVENT], PY312),
    "none_result_is_null": ("app.none", [EVENT], None),
    "string_result": ("app.hello", [EVENT], None),
    "bytes_result_is_raw": ("app.raw_bytes", [EVENT], None),
    "unicode_result": ("app.unicode", [EVENT], None),
    "decimal_result_is_raw": ("app.decimals", [EVENT], None),
    "tuples_namedtuples_bytes_and_keys": ("app.shapes", [EVENT], None),
    "top_level_tuple": ("app.top_tuple", [EVENT], None),
    "unserialisable_result_is_marshal_error": ("app.bad_marshal", [EVENT, EVENT], None),
    "undecodable_bytes_is_marshal_error": ("app.bad_bytes", [EVENT], None),
    "tuple_key_is_marshal_error": ("app.bad_key", [EVENT], None),
    "invalid_events_are_unmarshal_errors": ("app.echo", [
        (b"not json", {}), (b'{"a":1', {}), (b'{"a":1}x', {}), (b"[1,2,]", {}), (b'{"a":1,}', {}),
        (b"NaN", {}), (b'{"a":"\x01"}', {}), (b"\xff", {}), (b'{"a" 1}', {}), (b'"\\x"', {}),
        (b'"\\u12"', {}), (b"[", {}), (b"{", {}), (b'{"a":', {}), (b"  ", {}), (b'\xef\xbb\xbf{"a":1}', {}),
        (b'["unterminated', {}), (b"-Infinity", {}), (b"01", {}), (b'{"a":1}\n{"b":2}', {}),
    ], None),
    "value_error_with_stack_trace": ("app.raise_value", [EVENT, EVENT], None),
    "empty_message": ("app.raise_empty", [EVENT], None),
    "custom_exception_args": ("app.raise_custom", [EVENT], None),
    "nested_frames_outer_first": ("app.nested_key", [EVENT], None),
    "chained_exception_cause_dropped": ("app.raise_chained", [EVENT], None),
    "context_attributes": ("app.context_fields", [
        EVENT,
        (b"{}", {"X-Amz-Tenant-Id": "tenant-7"}),
        (b"{}", _client_context({"custom": {"a": 1}, "env": {"b": 2},
                                 "client": {"installation_id": "i", "app_title": "t"},
                                 "w3c": {"traceparent": "00-abc-def-01", "other": "x", "baggage": 5}})),
    ], {"AWS_LAMBDA_FUNCTION_NAME": "fn", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256"}),
    "client_context_object": ("app.client_context", [
        (b"{}", _client_context({"custom": {"k": "v"}, "client": {"app_title": "x"}})),
    ], None),
    "malformed_client_context": ("app.echo", [(b"{}", _client_context(b"nope"))], None),
    "text_logs": ("app.log_everything", [EVENT], None),
    "text_logs_at_debug": ("app.log_everything", [EVENT], {"AWS_LAMBDA_LOG_LEVEL": "DEBUG"}),
    "text_logs_at_trace_level": ("app.log_everything", [EVENT], {"AWS_LAMBDA_LOG_LEVEL": "TRACE"}),
    "json_logs": ("app.log_everything", [EVENT], {"AWS_LAMBDA_LOG_FORMAT": "JSON",
                                                   "AWS_LAMBDA_LOG_LEVEL": "info"}),
    "json_error_log": ("app.raise_value", [EVENT], {"AWS_LAMBDA_LOG_FORMAT": "json"}),
    "response_over_limit": ("app.big_response", [EVENT, EVENT], None),
    "system_exit_in_handler": ("app.exit_five", [EVENT, EVENT], None),
    # Handler resolution and init errors.
    "malformed_handler_name": ("nodots", [EVENT, EVENT], None),
    "builtin_module_conflict": ("sys.h", [EVENT], None),
    "builtin_prefixed_path_works": ("builtin/sys.h", [EVENT], None),
    "builtin_prefixed_dotted_works": ("builtin.sys.h", [EVENT], None),
    "missing_module": ("nope_module.h", [EVENT], None),
    "module_with_missing_dependency": ("import_bad.h", [EVENT], None),
    "syntax_error": ("syntax_bad.h", [EVENT], None),
    "missing_handler": ("app.nope", [EVENT], None),
    "class_attribute_as_module": ("app.MyErr.__init__", [EVENT], None),
    "slash_path": ("pkg/sub/mod.h", [EVENT], None),
    "dotted_path": ("pkg.sub.mod.h", [EVENT], None),
    "namespace_package_path": ("dir1/dir2/mod.h", [EVENT], None),
    "py_suffix_in_path": ("pkg/sub/mod.py.h", [EVENT], None),
    "exception_at_import_keeps_importlib_frames": ("init_raise.h", [EVENT], None),
    "value_error_at_import": ("init_value.h", [EVENT], None),
    "sys_exit_at_import": ("init_exit.h", [EVENT], None),
    "json_init_error_log": ("nope_module.h", [EVENT], {"AWS_LAMBDA_LOG_FORMAT": "JSON"}),
}


CRASH_CASES = {"response_over_limit"}


def _without_python_tracebacks(lines: List[str]) -> List[str]:
    kept, in_traceback = [], False
    for line in lines:
        if line == "Traceback (most recent call last):":
            in_traceback = True
        elif in_traceback and not line.startswith(" "):
            in_traceback = False  # the exception line ends the traceback
            continue
        if not in_traceback:
            kept.append(line)
    return kept


@pytest.mark.parametrize("case", sorted(CASES))
def test_lamina_answers_exactly_as_awslambdaric_under_aws_emulator(emulator_factory, case: str) -> None:
    handler, invocations, env = CASES[case]
    theirs, their_logs = _run(emulator_factory, AWSLAMBDARIC, handler, invocations, env)
    ours, our_logs = _run(emulator_factory, LAMINA, handler, invocations, env)
    assert ours == theirs
    if case in CRASH_CASES:
        # awslambdaric dies with a Python traceback; lamina says the same thing in one line.
        assert [line for line in our_logs if line.startswith("lamina.runtime: ")]
        our_logs = [line for line in our_logs if not line.startswith("lamina.runtime: ")]
        their_logs = _without_python_tracebacks(their_logs)
    assert our_logs == their_logs


def test_non_callable_handler_reports_type_error_like_awslambdaric(emulator_factory) -> None:
    # The stack trace necessarily names each runtime's own file, so only type and message are compared.
    answers = []
    for command in (AWSLAMBDARIC, LAMINA):
        emulator = emulator_factory([*command, "app.not_callable"], FUNCTIONS)
        body = json.loads(emulator.invoke(b"{}").body)
        answers.append((body["errorType"], body["errorMessage"]))
    assert answers[0] == answers[1] == ("TypeError", "'int' object is not callable")
