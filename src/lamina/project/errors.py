"""The errors of reading a project: a project file, a SAM template or a route key, that cannot be used as
written.

Kept in a module of their own, with no imports, so that the command line can name them without
loading a TOML or YAML parser.
"""

from __future__ import annotations

__all__ = ["InvalidRouteError", "ProjectError", "TemplateError"]


class ProjectError(ValueError):
    """A project file that cannot be read as lamina functions."""


class TemplateError(ValueError):
    """The template cannot be read (bad YAML, not a mapping, a broken intrinsic)."""


class InvalidRouteError(ValueError):
    """A route key API Gateway would refuse (``BadRequestException`` on ``CreateRoute``)."""
