"""What the pytest plugin serves: the functions of the project at pytest's rootdir.

The same sources as ``lamina serve`` without flags: a SAM/CDK template when one is named (the
``lamina_template`` ini option or ``--lamina-template``), else the ``[tool.lamina.functions]`` of
``pyproject.toml`` or ``lamina.toml``. Anything else is a :class:`NothingToServe` that says, in one
line, what was looked for.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

from lamina.local.frontends.options import FrontendOptions, frontend_options
from lamina.local.model.function_config import FunctionConfig
from lamina.project.errors import ProjectError, TemplateError
from lamina.project.functions import PROJECT_FILES, find_project_file, load_functions

__all__ = ["NothingToServe", "ServedProject", "served_project"]


class NothingToServe(Exception):
    """No project file or template to serve, or one that does not read; the message is one line."""


@dataclass
class ServedProject:
    """The functions to serve and the front ends' options (routes, async settings) that go with them."""

    functions: list[FunctionConfig]
    frontends: FrontendOptions

    @property
    def has_routes(self) -> bool:
        """Whether the project declares HTTP routes (then the HTTP front is served too)."""
        tables = self.frontends.tables.values()
        return bool(self.frontends.routes) or any("routes" in table for table in tables)


def served_project(rootdir: Path, template: Optional[Path], data_dir: Path,
                   warn: Callable[[str], None]) -> ServedProject:
    """The project at ``rootdir`` (or ``template``, relative to it), as the plugin serves it."""
    options = FrontendOptions(host="127.0.0.1", watch=False, data_dir=data_dir)
    try:
        if template is not None:
            path = template if template.is_absolute() else rootdir / template
            if not path.is_file():
                raise NothingToServe(f"lamina: template {path} (lamina_template) does not exist")
            return ServedProject(frontend_options(options, template=path, warn=warn), options)
        project = find_project_file(rootdir)
        if project is None:
            raise NothingToServe(
                f"lamina: nothing to serve at {rootdir}: looked for [tool.lamina.functions] in "
                f"{' or '.join(reversed(PROJECT_FILES))}, or a SAM/CDK template named by the "
                f"lamina_template ini option or --lamina-template")
        functions = load_functions(project)
        frontend_options(options, project=project, warn=warn)
    except (ProjectError, TemplateError) as exc:
        raise NothingToServe(f"lamina: {exc}") from None
    return ServedProject(functions, options)
