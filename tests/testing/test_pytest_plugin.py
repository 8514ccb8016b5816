"""The pytest plugin, run as users run it: pytest in a subprocess on a generated project."""

from __future__ import annotations

import socket
import time
import uuid

import pytest

from tests.local.local_helpers import processes_with_env

# Plugins of this environment that only slow each subprocess down.
QUIET = ("-p", "no:ddtrace", "-p", "no:cacheprovider")
RUN_TIMEOUT = 120


def _two_function_project(pytester: pytest.Pytester, mark: str) -> None:
    """``hello`` (answers its variables and pid, leaves a child process running) and ``broken``
    (fails its init); every process of theirs carries ``mark`` in its environment."""
    pytester.makefile(".toml", pyproject=f"""
        [tool.lamina.functions.hello]
        code = "hello"
        handler = "app.handler"
        env = {{ GREETING = "hello", LAMINA_TEST_MARK = "{mark}" }}

        [tool.lamina.functions.broken]
        code = "broken"
        handler = "app.handler"
        env = {{ LAMINA_TEST_MARK = "{mark}" }}
    """)
    hello = pytester.mkdir("hello")
    (hello / "app.py").write_text(
        "import os, subprocess\n"
        "CHILD = subprocess.Popen(['sleep', '300'])\n"
        "def handler(event, context):\n"
        "    print('handling', event.get('name'))\n"
        "    return {'greeting': os.environ['GREETING'], 'name': event.get('name'), 'pid': os.getpid()}\n")
    broken = pytester.mkdir("broken")
    (broken / "app.py").write_text("raise RuntimeError('boom at init')\n")


def _processes_marked(mark: str) -> list[int]:
    return processes_with_env(f"LAMINA_TEST_MARK={mark}")


def _assert_nothing_left(mark: str) -> None:
    deadline = time.monotonic() + 5
    while _processes_marked(mark) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _processes_marked(mark) == []


SUITE = """
import json


def test_invoke_returns_payload_and_logs(invoke):
    result = invoke("hello", {"name": "ada"})
    assert result.function_error is None
    assert result.payload["greeting"] == "hello" and result.payload["name"] == "ada"
    assert "handling ada" in result.logs
    assert result.logs[-1].startswith("REPORT RequestId: " + result.request_id)


def test_lambda_client_is_boto3_on_the_local_lambda(lambda_client, lamina_serve):
    assert lambda_client.meta.endpoint_url == lamina_serve.endpoint_url
    out = lambda_client.invoke(FunctionName="hello", Payload=b'{"name": "bob"}')
    assert json.loads(out["Payload"].read())["name"] == "bob"


def test_init_error_is_the_result(invoke):
    result = invoke("broken", {})
    assert result.function_error == "Unhandled"
    assert "boom at init" in result.payload["errorMessage"]
    assert any(line.startswith("INIT_REPORT") for line in result.logs)
"""


def test_two_functions_pass_under_pytest_and_xdist_and_leave_no_process(pytester: pytest.Pytester) -> None:
    mark = uuid.uuid4().hex
    _two_function_project(pytester, mark)
    pytester.makepyfile(test_functions=SUITE)
    plain = pytester.runpytest_subprocess(*QUIET, timeout=RUN_TIMEOUT)
    plain.assert_outcomes(passed=3)
    _assert_nothing_left(mark)
    parallel = pytester.runpytest_subprocess(*QUIET, "-n", "2", timeout=RUN_TIMEOUT)
    parallel.assert_outcomes(passed=3)
    _assert_nothing_left(mark)


def test_marker_overrides_one_function_and_failed_tests_show_their_invocation_logs(
        pytester: pytest.Pytester) -> None:
    mark = uuid.uuid4().hex
    _two_function_project(pytester, mark)
    (pytester.path / "other").mkdir()
    (pytester.path / "other" / "app.py").write_text(
        "import os\ndef handler(event, context):\n    return os.getpid()\n")
    with (pytester.path / "pyproject.toml").open("a") as project:
        project.write(f'\n[tool.lamina.functions.other]\ncode = "other"\nhandler = "app.handler"\n'
                      f'env = {{ LAMINA_TEST_MARK = "{mark}" }}\n')
    pytester.makepyfile(test_overrides="""
        import pytest

        PIDS = []


        def test_before(invoke):
            assert invoke("hello", {}).payload["greeting"] == "hello"
            PIDS.append(invoke("other", {}).payload)


        @pytest.mark.lamina_config("hello", env={"GREETING": "hi"}, timeout=2)
        def test_overridden(invoke):
            assert invoke("hello", {}).payload["greeting"] == "hi"
            PIDS.append(invoke("other", {}).payload)


        def test_after_and_unrelated_function_kept_warm(invoke):
            assert invoke("hello", {}).payload["greeting"] == "hello"
            PIDS.append(invoke("other", {}).payload)
            assert len(set(PIDS)) == 1


        def test_failing(invoke):
            invoke("hello", {"name": "in-the-report"})
            assert False, "fails on purpose"
    """)
    result = pytester.runpytest_subprocess(*QUIET, timeout=RUN_TIMEOUT)
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*Captured lamina log call*", "hello | handling in-the-report"])
    assert "hello | handling None" not in result.stdout.str()  # other tests' invocations are not in it
    _assert_nothing_left(mark)


def test_no_project_errors_with_one_line_saying_what_it_looked_for(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_nothing="def test_it(invoke):\n    invoke('hello', {})\n")
    result = pytester.runpytest_subprocess(*QUIET, timeout=RUN_TIMEOUT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*lamina: nothing to serve at *: looked for [[]tool.lamina.functions[]] "
                                 "in pyproject.toml or lamina.toml, or a SAM/CDK template named by the "
                                 "lamina_template ini option or --lamina-template"])
    assert "Traceback" not in result.stdout.str()


def test_port_in_use_is_a_clear_error(pytester: pytest.Pytester) -> None:
    _two_function_project(pytester, uuid.uuid4().hex)
    pytester.makepyfile(test_port="def test_it(invoke):\n    invoke('hello', {})\n")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = pytester.runpytest_subprocess(*QUIET, f"--lamina-port={port}", timeout=RUN_TIMEOUT)
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines([f"*lamina: cannot listen on 127.0.0.1:{port} (lamina_port): "
                                 "the port is in use"])
