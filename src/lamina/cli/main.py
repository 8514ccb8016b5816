"""The ``lamina`` command.

Each command group has its own module (``lamina.cli.local``, ``lamina.cli.event``, ``lamina.cli.build``,
``lamina.cli.deploy``), imported only when one of its commands runs, so ``lamina --help`` stays fast
and one area's dependencies never load for another's command.
"""

from __future__ import annotations

import importlib

import click

# command name -> "module:attribute" of a click command
COMMANDS: dict[str, str] = {
    "serve": "lamina.cli.local:serve",
    "invoke": "lamina.cli.local:invoke",
    "event": "lamina.cli.event:event",
    "build": "lamina.cli.build:build",
    "layer": "lamina.cli.build:layer",
    "check": "lamina.cli.build:check",
    "deploy": "lamina.cli.deploy:deploy",
}


class LazyGroup(click.Group):
    """A click group that imports a subcommand's module only when that subcommand is used."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, attribute = target.split(":")
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:
            if exc.name != module_name:
                raise
            return None  # area not built yet
        command: click.Command | None = getattr(module, attribute, None)
        return command


@click.group(cls=LazyGroup)
@click.version_option(package_name="lamina")
def main() -> None:
    """lamina: a fast custom runtime for AWS Lambda, a local Lambda, builds, layers and deploys."""
