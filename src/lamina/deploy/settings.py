"""What one ``lamina deploy`` does: the options given, over the project file's function table, over
Lambda's defaults (in that order). Pure apart from reading the project file and checking paths.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.deploy.deployer import DEFAULT_MEMORY, DEFAULT_TIMEOUT
from lamina.deploy.errors import DeploySettingsError
from lamina.project.functions import deploy_settings

__all__ = ["DEFAULT_ARCH", "DEFAULT_MEMORY", "DEFAULT_RUNTIME", "DEFAULT_TIMEOUT", "Settings",
           "resolve_settings"]

DEFAULT_RUNTIME = "provided.al2023"
DEFAULT_ARCH = "x86_64"


@dataclass
class Settings:
    """One deploy, with options, project file and Lambda's defaults resolved."""

    name: str
    runtime: str
    arch: str
    handler: str
    memory: int
    timeout: int
    environment: dict[str, str]
    layers: list[str]
    zip_path: Path | None
    code_dir: Path
    with_layer: bool | None
    python_dist: Path | None
    role: str | None
    create_role: bool
    endpoint_url: str | None
    region: str | None
    profile: str | None
    description: str | None
    s3_bucket: str | None = None  # zips go through this bucket (past the 50 MiB of a direct upload)
    bytecode: bool = True  # ship .pyc for the target Python
    rebuild: bool = False  # build even when the inputs are those of an earlier build


def resolve_settings(name: str | None, options: Mapping[str, Any], directory: Path) -> Settings:
    """``options`` (named as the project file's keys; None for an option not given) over
    ``[tool.lamina.functions.NAME]`` of the project file in ``directory`` over Lambda's defaults.
    """
    name, project = deploy_settings(directory, name)
    if not name:
        raise DeploySettingsError("name the function: lamina deploy NAME (or describe it in "
                                  "[tool.lamina.functions.NAME] of pyproject.toml)")

    def pick(key: str, default: Any = None) -> Any:
        value = options.get(key)
        return value if value is not None else project.get(key, default)

    handler = pick("handler")
    if not handler:
        raise DeploySettingsError("pass --handler module.function (e.g. app.handler)")
    layers = list(options.get("layers") or ()) or list(project.get("layers", []))
    for layer in layers:
        if not layer.startswith("arn:") and not Path(layer).is_dir() and not (
                layer.endswith(".zip") and Path(layer).is_file()):
            raise DeploySettingsError(f"Invalid value for --layer: {layer} is neither a layer version ARN, "
                                      "a directory nor a layer zip")
    from_project_zip = Path(project["zip"]) if "zip" in project and options.get("code") is None else None
    return Settings(
        name=name, runtime=pick("runtime", DEFAULT_RUNTIME), arch=pick("arch", DEFAULT_ARCH), handler=handler,
        memory=int(pick("memory", DEFAULT_MEMORY)), timeout=int(pick("timeout", DEFAULT_TIMEOUT)),
        environment={**project.get("env", {}), **(options.get("env") or {})},
        layers=layers, zip_path=options.get("zip") or from_project_zip,
        code_dir=options.get("code") or Path(project.get("code", ".")),
        with_layer=pick("with_layer"), python_dist=options.get("python_dist"), role=pick("role"),
        create_role=bool(pick("create_role", False)), endpoint_url=pick("endpoint_url"),
        region=pick("region"), profile=pick("profile"), description=project.get("description"),
        s3_bucket=pick("s3_bucket") or None, bytecode=options.get("bytecode") is not False,
        rebuild=bool(options.get("rebuild")))
