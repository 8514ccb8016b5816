"""``--env`` adds to the variables a project file or SAM template gives a function."""

from __future__ import annotations

from pathlib import Path

from lamina.local.frontends.options import functions_from_template
from lamina.project.functions import load_functions


def test_env_flags_add_to_a_project_functions_own_variables(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lamina.functions.f]\nhandler = "app.h"\nenv = { STAGE = "dev", KEEP = "yes" }\n')
    [config] = load_functions(tmp_path / "pyproject.toml", {"env": {"STAGE": "test", "NEW": "1"}})
    assert config.environment == {"STAGE": "test", "KEEP": "yes", "NEW": "1"}


def test_env_flags_add_to_a_sam_functions_variables(tmp_path: Path) -> None:
    (tmp_path / "template.yaml").write_text(
        "Transform: AWS::Serverless-2016-10-31\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n"
        "    Properties:\n      CodeUri: .\n      Handler: app.h\n      Runtime: python3.12\n"
        "      Environment:\n        Variables:\n          STAGE: dev\n          KEEP: 'yes'\n")
    served = functions_from_template(tmp_path / "template.yaml", {"environment": {"STAGE": "test"}})
    [config] = served.functions
    assert config.environment == {"STAGE": "test", "KEEP": "yes"}
