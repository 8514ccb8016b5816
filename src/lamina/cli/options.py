"""Option values more than one command reads the same way."""

from __future__ import annotations

import click

from lamina.local.model.function_config import parse_env

__all__ = ["environment_option"]


def environment_option(pairs: tuple[str, ...]) -> dict[str, str]:
    """``--env K=V`` (repeatable) as variables; a pair without ``=`` is a bad ``--env``."""
    try:
        return parse_env(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--env") from None
