"""How lamina's failures reach the user: one table from lamina's exception types to exit statuses.

The packages raise their own exceptions, whose message is the one line to show. Every command of
lamina is a :class:`Command` (every group a :class:`Group`, whose subcommands are Commands), which
turns them into what click prints: a usage error (exit status 2, after the command's usage line, as
click does for a bad option) or ``Error: message`` (exit status 1). No traceback for anything in the
table. The exception modules import nothing, so this costs no
start-up time.
"""

from __future__ import annotations

from typing import Any

import click

from lamina.artifacts.errors import BuildError
from lamina.deploy.errors import DeployError, DeploySettingsError, RemoteInvokeError
from lamina.project.errors import InvalidRouteError, ProjectError, TemplateError

__all__ = ["EXIT_STATUSES", "FAILED", "USAGE", "Command", "Group", "click_error"]

USAGE = 2  # click's status for a command line it refuses
FAILED = 1

# First match wins: a subclass comes before its base.
EXIT_STATUSES: tuple[tuple[type[Exception], int], ...] = (
    (ProjectError, USAGE),  # the project file stands for the command line's flags
    (TemplateError, USAGE),
    (InvalidRouteError, USAGE),
    (DeploySettingsError, USAGE),
    (DeployError, FAILED),
    (RemoteInvokeError, FAILED),
    (BuildError, FAILED),
)
_LAMINA_ERRORS = tuple(kind for kind, _ in EXIT_STATUSES)

def click_error(exc: Exception, ctx: click.Context | None = None) -> click.ClickException:
    """The click exception that shows ``exc`` with its exit status from :data:`EXIT_STATUSES`."""
    status = next(status for kind, status in EXIT_STATUSES if isinstance(exc, kind))
    return click.UsageError(str(exc), ctx) if status == USAGE else click.ClickException(str(exc))


class Command(click.Command):
    """A lamina command: what its callback raises is shown as :data:`EXIT_STATUSES` says."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except _LAMINA_ERRORS as exc:
            raise click_error(exc, ctx) from None


class Group(click.Group):
    """A group of lamina commands: ``@group.command()`` makes a :class:`Command`."""

    command_class = Command
