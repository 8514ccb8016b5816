"""lamina's exceptions reach the user through one table: usage errors exit 2, failures 1, no traceback."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from lamina.artifacts.errors import BuildError
from lamina.cli.errors import EXIT_STATUSES, FAILED, USAGE, Command, Group
from lamina.deploy.errors import DeployError, DeploySettingsError, RemoteInvokeError
from lamina.local.frontends.routes import InvalidRouteError
from lamina.project.errors import ProjectError, TemplateError


def failing(exc: Exception) -> click.Command:
    @click.command(cls=Command)
    def command() -> None:
        raise exc

    return command


@pytest.mark.parametrize("exc", [ProjectError("bad table"), TemplateError("bad template"),
                                 InvalidRouteError("bad route"), DeploySettingsError("pass --handler")])
def test_a_usage_error_exits_2_after_the_usage_line(exc: Exception) -> None:
    result = CliRunner().invoke(failing(exc), [])
    assert result.exit_code == USAGE == 2
    assert result.output.startswith("Usage: ") and f"Error: {exc}\n" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize("exc", [DeployError("updating failed; the previous version is still running"),
                                 RemoteInvokeError("ResourceNotFoundException: Function not found"),
                                 BuildError("no wheel for Lambda")])
def test_a_failure_exits_1_with_one_error_line(exc: Exception) -> None:
    result = CliRunner().invoke(failing(exc), [])
    assert (result.exit_code, result.output) == (FAILED, f"Error: {exc}\n")


def test_the_subcommands_of_a_group_go_through_the_table() -> None:
    @click.group(cls=Group)
    def group() -> None:
        """A group."""

    @group.command()
    def sub() -> None:
        raise BuildError("disk full")

    result = CliRunner().invoke(group, ["sub"])
    assert (result.exit_code, result.output) == (1, "Error: disk full\n")


def test_a_subclass_comes_before_its_base_in_the_table() -> None:
    kinds = [kind for kind, _ in EXIT_STATUSES]
    for later, kind in enumerate(kinds):
        assert not any(issubclass(kind, earlier) for earlier in kinds[:later]), kind


def test_an_error_outside_the_table_is_not_hidden() -> None:
    result = CliRunner().invoke(failing(KeyError("bug")), [])
    assert isinstance(result.exception, KeyError)
