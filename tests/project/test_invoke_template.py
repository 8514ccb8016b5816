"""``lamina invoke --template T FUNCTION``: a template's function by its logical id, its FunctionName,
or ``Child/Function`` inside a nested application, invoked once from the command line."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

SAM_APP = Path(__file__).resolve().parent / "fixtures" / "sam-app"


def _invoke(*args: str, event: str = "{}") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "AWS_REGION": "us-east-1"}
    template = str(SAM_APP / "template.yaml")
    return subprocess.run([sys.executable, "-m", "lamina", "invoke", "--template", template, *args,
                           "--event", event], cwd=SAM_APP, env=env, capture_output=True, text=True,
                          timeout=120)


@pytest.mark.parametrize("function", ["PlainFunction", "Child/ChildFunction"])
def test_a_template_function_is_invoked_by_its_logical_id_or_child_path(function: str) -> None:
    result = _invoke(function)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["region"] == "us-east-1"


def test_inline_code_runs_and_an_unknown_function_is_one_clear_error() -> None:
    inline = _invoke("InlineFunction")
    assert inline.returncode == 0, inline.stderr
    assert json.loads(inline.stdout) == {"inline": True}
    unknown = _invoke("NoSuchFunction")
    assert unknown.returncode != 0 and "NoSuchFunction" in unknown.stderr
    assert "Traceback" not in unknown.stderr


def test_a_function_with_a_function_name_answers_to_that_name_and_to_its_logical_id() -> None:
    event = json.dumps({"requestContext": {"stage": "Prod"}})
    for name in ("rest-items", "RestFunction"):
        result = _invoke(name, event=event)
        assert result.returncode == 0, result.stderr
        assert json.loads(json.loads(result.stdout)["body"])["function"] == "rest-items"
