"""The local Lambda runs a function as Lambda would (issue 13): its Runtime API takes what Lambda takes,
its logs belong to their invocation, its runtime is the function's Python with only the function's
packages, it scales as Lambda scales, and it sees the region and credentials botocore resolves."""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.local.invoke.service import InvocationResult, LocalLambda
from lamina.local.model.function_config import FunctionConfig
from lamina.local.model.service_errors import ServiceError
from lamina.local.sandbox.python_runtime import PythonRuntimes, find_interpreter, probe
from tests.conftest import ROOT, sigv4_headers
from tests.local.local_helpers import FUNCTIONS, RIC, lamina_serve, post, serve_handler


def test_awslambdaric_posts_a_recursion_errors_xray_cause_over_8_kb(tmp_path: Path) -> None:
    with serve_handler("handlers.recurse_forever", tmp_path) as server:
        result = server.invoke(b"{}")
    document = json.loads(result.body)
    assert result.status == 200 and result.headers["X-Amz-Function-Error"] == "Unhandled"
    assert document["errorType"] == "RecursionError", document
    assert "maximum recursion depth exceeded" in document["errorMessage"]


def _invoke_all(config: FunctionConfig, payloads: list[bytes]) -> list[InvocationResult]:
    async def scenario() -> list[InvocationResult]:
        async with LocalLambda() as local:
            local.registry.put(config)
            return [await local.invoke(config.name, payload) for payload in payloads]

    return asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.parametrize("bootstrap", [None, tuple(RIC)], ids=["lamina", "awslambdaric"])
def test_a_partial_line_is_flushed_before_end_into_its_own_log_result(
        bootstrap: tuple[str, ...] | None) -> None:
    config = FunctionConfig(name="partial", code_dir=FUNCTIONS, handler="handlers.write_partial",
                            bootstrap=bootstrap)
    results = _invoke_all(config, [b'{"n": 1}', b'{"n": 2, "cr": true}', b'{"n": 3}'])
    for n, result in enumerate(results, 1):
        lines = result.log_tail().decode().splitlines()
        end = next(i for i, line in enumerate(lines) if line.startswith("END RequestId"))
        assert lines[end - 1] == f"partial-{n}", lines
        assert sum(f"partial-{m}" in result.log_tail().decode() for m in (1, 2, 3)) == 1
    # CR as Lambda treats it: only a newline ends a line (a CR inside one stays; CRLF ends one).
    assert "one\rline" in results[1].log_tail().decode().split("\n")


PYTHON_312 = next((p for p in ("/root/.pyenv/versions/3.12.1/bin/python3.12", shutil.which("python3.12"))
                   if p and probe(p) is not None and probe(p).version == "3.12"), None)  # type: ignore[union-attr]


def _run_on(python: PythonRuntimes, config: FunctionConfig, payload: bytes) -> InvocationResult:
    async def scenario() -> InvocationResult:
        async with LocalLambda(python=python) as local:
            local.registry.put(config)
            return await local.invoke(config.name, payload)

    return asyncio.run(asyncio.wait_for(scenario(), 60))


@pytest.mark.skipif(PYTHON_312 is None, reason="no Python 3.12 on this machine")
def test_a_python312_function_runs_on_python312_with_only_its_packages_and_boto3() -> None:
    config = FunctionConfig(name="py312", code_dir=FUNCTIONS, handler="packages.report", runtime="python3.12")
    modules = b'{"modules": ["boto3", "botocore", "aiohttp", "pytest", "lamina"]}'
    result = _run_on(PythonRuntimes({"3.12": str(PYTHON_312)}), config, modules)
    answer = json.loads(result.payload)
    assert answer["version"] == "3.12", answer
    assert answer["found"] == {"boto3": True, "botocore": True, "aiohttp": False, "pytest": False,
                               "lamina": True}
    assert not any("site-packages" in entry for entry in answer["path"]), answer["path"]
    assert answer["path"][0] == str(FUNCTIONS)  # the code first, as /var/task on Lambda


def test_python312_is_found_without_being_named() -> None:
    if PYTHON_312 is None:
        pytest.skip("no Python 3.12 on this machine")
    assert find_interpreter("3.12", {}).version == "3.12"


def test_an_unbundled_import_fails_as_on_lambda_and_no_boto3_leaves_the_sdk_out() -> None:
    config = FunctionConfig(name="unbundled", code_dir=FUNCTIONS, handler="unbundled.handler")
    result = _run_on(PythonRuntimes(), config, b"{}")
    assert json.loads(result.payload)["errorType"] == "Runtime.ImportModuleError"
    assert "No module named 'aiohttp'" in json.loads(result.payload)["errorMessage"]
    config = FunctionConfig(name="nosdk", code_dir=FUNCTIONS, handler="packages.report")
    result = _run_on(PythonRuntimes(boto3=False), config, b'{"modules": ["boto3", "lamina"]}')
    assert json.loads(result.payload)["found"] == {"boto3": False, "lamina": True}


def test_a_runtime_that_is_not_installed_fails_the_invocation_with_invalid_entrypoint() -> None:
    config = FunctionConfig(name="py399", code_dir=FUNCTIONS, handler="packages.report", runtime="python3.99")
    result = _run_on(PythonRuntimes(), config, b"{}")
    document = json.loads(result.payload)
    assert result.function_error == "Unhandled"
    assert document["errorType"] == "Runtime.InvalidEntrypoint"
    assert "Runtime python3.99 is not installed" in document["errorMessage"]
    assert "--python 3.99=/path/to/python3.99" in document["errorMessage"]


def _reasons(results: list[object]) -> list[object]:
    """The throttle reason of each result (None for an answer), in a fixed order."""
    reasons = [result if result is None or isinstance(result, str)
               else getattr(result, "extra", {}).get("Reason") for result in results]
    return sorted(reasons, key=str)


def _concurrently(configs: list[FunctionConfig], name: str, count: int, seconds: float,
                  account_concurrency: int = 1000) -> list[object]:
    payload = json.dumps({"seconds": seconds}).encode()

    async def scenario() -> list[object]:
        async with LocalLambda(account_concurrency=account_concurrency) as local:
            for config in configs:
                local.registry.put(config)
            local.check_reservations()

            async def one() -> object:
                try:
                    return await local.invoke(name, payload)
                except ServiceError as error:
                    return error

            return await asyncio.gather(*(one() for _ in range(count)))

    return asyncio.run(asyncio.wait_for(scenario(), 300))


def _sleeper(name: str, **changes: object) -> FunctionConfig:
    config = FunctionConfig(name=name, code_dir=FUNCTIONS, handler="handlers.sleep", timeout=60)
    return config.with_changes(**changes)


def test_200_concurrent_waits_are_answered_without_429_by_environments_started_on_demand() -> None:
    results = _concurrently([_sleeper("waits", handler="handlers.sleep_window")], "waits", 200, 3)
    assert [type(result).__name__ for result in results] == ["InvocationResult"] * 200
    assert all(result.function_error is None for result in results)  # type: ignore[attr-defined]
    answers = [json.loads(result.payload) for result in results]  # type: ignore[attr-defined]
    assert len({answer["pid"] for answer in answers}) == 200  # an environment each, started on demand
    # in parallel, not one after another: the waits overlap (how many at once is the machine's business)
    edges = sorted([(answer["began"], 1) for answer in answers] +
                   [(answer["ended"], -1) for answer in answers])
    running = peak = 0
    for _, step in edges:
        running += step
        peak = max(peak, running)
    assert peak > 1


def test_reserved_and_account_concurrency_throttle_with_lambdas_reasons() -> None:
    configs = [_sleeper("reserved", reserved_concurrency=2), _sleeper("shared")]
    reserved = _concurrently(configs, "reserved", 3, 1, account_concurrency=102)
    assert _reasons(reserved) == _reasons([None, None, "ReservedFunctionConcurrentInvocationLimitExceeded"])
    shared = _concurrently([_sleeper("shared")], "shared", 3, 1, account_concurrency=2)
    assert _reasons(shared) == _reasons([None, None, "ConcurrentInvocationLimitExceeded"])


def test_a_reservation_leaving_less_than_100_unreserved_is_refused_with_aws_message() -> None:
    with pytest.raises(ServiceError) as refused:
        _concurrently([_sleeper("greedy", reserved_concurrency=901)], "greedy", 1, 0)
    assert refused.value.error_type == "InvalidParameterValueException"
    assert refused.value.message == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100].")


def _profile_files(tmp_path: Path) -> dict[str, str]:
    (tmp_path / "config").write_text("[profile dev]\nregion = eu-west-3\n")
    (tmp_path / "credentials").write_text("[dev]\naws_access_key_id = AKIADEV\n"
                                          "aws_secret_access_key = devsecret\naws_session_token = devtoken\n")
    return {"AWS_PROFILE": "dev", "AWS_CONFIG_FILE": str(tmp_path / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "credentials")}


def _without_aws_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("AWS_"):
            monkeypatch.delenv(key)


def test_region_and_credentials_from_a_profile_reach_the_function_its_arn_and_not_found(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _without_aws_variables(monkeypatch)
    args = ["--code", str(FUNCTIONS), "--handler", "handlers.context_and_credentials"]
    with lamina_serve(args, tmp_path, env=_profile_files(tmp_path)) as server:
        answer = json.loads(server.invoke(b"{}").body)
        url = server.url("nope")  # as boto3 with the profile signs: for its region
        missing = post(url, b"{}", sigv4_headers("POST", url, b"{}", region="eu-west-3"), signed=False)
    assert answer["region"] == ["eu-west-3", "eu-west-3"]
    assert answer["credentials"] == ["AKIADEV", "devsecret", "devtoken"]
    assert answer["arn"] == "arn:aws:lambda:eu-west-3:123456789012:function:fn"
    assert missing.status == 404
    assert "arn:aws:lambda:eu-west-3:123456789012:function:nope" in missing.body.decode()


def test_an_unreadable_aws_config_file_is_a_one_line_error(tmp_path: Path) -> None:
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("AWS_")},
           "AWS_CONFIG_FILE": str(tmp_path), "PYTHONPATH": str(ROOT / "src")}
    command = [sys.executable, "-m", "lamina", "invoke", "handlers.echo", "--code", str(FUNCTIONS),
               "--event", "{}"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines() == [
        f"Error: Unable to read AWS config file {tmp_path}: it is a directory (AWS_CONFIG_FILE)"]


def test_a_project_reservation_above_the_accounts_stops_serve_with_one_line(tmp_path: Path) -> None:
    (tmp_path / "lamina.toml").write_text(
        f'[functions.greedy]\ncode = "{FUNCTIONS}"\nhandler = "handlers.echo"\nreserved_concurrency = 950\n')
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run([sys.executable, "-m", "lamina", "serve", "--port", "0", "--no-watch"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert done.stderr.strip().splitlines()[-1] == (
        "Error: InvalidParameterValueException: Specified ReservedConcurrentExecutions for function "
        "decreases account's UnreservedConcurrentExecution below its minimum value of [100].")
