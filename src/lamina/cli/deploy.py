"""``lamina deploy``: build what is missing, publish the runtime layer, create or update the function.

Options override the project file (``[tool.lamina.functions.NAME]``), which overrides Lambda's
defaults. Progress goes to stderr; the function's ARN, the one result, goes to stdout.
"""

from __future__ import annotations

import contextlib
import io
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from lamina.artifacts.errors import BuildError
from lamina.deploy import packaging
from lamina.deploy.deployer import (
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    Deployer,
    DeployFailed,
    FunctionSpec,
    aws_error,
    ensure_role,
    publish_layer_if_new,
)
from lamina.deploy.session import lambda_session
from lamina.deploy.upload import upload_progress
from lamina.project.deploy_settings import ProjectError, function_defaults

LOCAL_ROLE = "arn:aws:iam::123456789012:role/lamina-local"  # a Lambda-compatible endpoint needs one


def stderr_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def parse_env(pairs: tuple[str, ...]) -> dict[str, str]:
    env: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise click.BadParameter(f"expected KEY=VALUE, got {pair!r}", param_hint="--env")
        env[key] = value
    return env


@contextlib.contextmanager
def failures() -> Iterator[None]:
    """Every failure the user can act on: one ``Error:`` line, exit status 1, no traceback."""
    try:
        yield
    except (DeployFailed, ProjectError, BuildError) as exc:
        raise click.ClickException(str(exc)) from None
    except (ClientError, BotoCoreError) as exc:
        raise click.ClickException(aws_error(exc)) from None


@contextlib.contextmanager
def upload_display(client: Any, console: Console) -> Iterator[None]:
    """A transfer bar for each large upload the client makes inside the block."""
    columns = (TextColumn("uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("upload", total=None, visible=False)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total, visible=sent < total)

        with upload_progress(client, advance):
            yield


@dataclass
class Settings:
    """One deploy, with options, project file and Lambda's defaults resolved (in that order)."""

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


def resolve(name: str | None, options: dict[str, Any]) -> Settings:
    """Options over ``[tool.lamina.functions.NAME]`` over Lambda's defaults."""
    name, project = function_defaults(Path.cwd(), name)
    if not name:
        raise click.UsageError("name the function: lamina deploy NAME (or describe it in "
                               "[tool.lamina.functions.NAME] of pyproject.toml)")
    if options["code"] is not None and options["zip_file"] is not None:
        raise click.UsageError("pass --code or --zip, not both")

    def pick(key: str, default: Any = None, option: str | None = None) -> Any:
        value = options.get(option or key)
        return value if value is not None else project.get(key, default)

    handler = pick("handler")
    if not handler:
        raise click.UsageError("pass --handler module.function (e.g. app.handler)")
    from_project_zip = Path(project["zip"]) if "zip" in project and options["code"] is None else None
    return Settings(
        name=name, runtime=pick("runtime", "provided.al2023"), arch=pick("arch", "x86_64"), handler=handler,
        memory=int(pick("memory", DEFAULT_MEMORY)), timeout=int(pick("timeout", DEFAULT_TIMEOUT)),
        environment={**{str(k): str(v) for k, v in dict(project.get("env", {})).items()},
                     **parse_env(options["env_pairs"])},
        layers=list(options["layers"]) or [str(layer) for layer in project.get("layers", [])],
        zip_path=options["zip_file"] or from_project_zip,
        code_dir=options["code"] or Path(project.get("code", ".")),
        with_layer=pick("with_layer"), python_dist=options["python_dist"], role=pick("role"),
        create_role=bool(pick("create_role", False)), endpoint_url=pick("endpoint_url"),
        region=pick("region"), profile=pick("profile"), description=project.get("description"))


def build_zips(settings: Settings, console: Console) -> tuple[bytes, bytes | None]:
    """The function zip, and lamina's runtime layer zip when this deploy uses it."""
    with console.status("building") as status:
        if settings.zip_path is not None:
            zip_bytes = settings.zip_path.read_bytes()
        else:
            zip_bytes = packaging.function_zip(settings.code_dir, settings.runtime, settings.arch,
                                               report=lambda step: status.update(f"building: {step}"))
        use_layer = settings.with_layer
        if use_layer is None:  # a custom runtime needs a bootstrap from somewhere: lamina's
            use_layer = (settings.runtime.startswith("provided") and not _zip_has_bootstrap(zip_bytes)
                         and not any(_may_have_bootstrap(layer) for layer in settings.layers))
        if not use_layer:
            return zip_bytes, None
        if (settings.runtime.startswith("provided") and settings.python_dist is None
                and settings.endpoint_url is None):
            console.print("[yellow]warning:[/] Lambda's provided.* runtimes have no python3: pass "
                          "--python-dist (a python-build-standalone archive) so the layer carries its own")
        layer_zip = packaging.runtime_layer_zip(settings.arch, settings.python_dist,
                                                report=lambda step: status.update(f"building layer: {step}"))
        return zip_bytes, layer_zip


def run(settings: Settings, zip_bytes: bytes, layer_zip: bytes | None, console: Console) -> str:
    """Publish layers, make sure of the role, create or update the function; return its ARN."""
    session = lambda_session(settings.profile, settings.region, settings.endpoint_url)
    client = session.client("lambda", endpoint_url=settings.endpoint_url,
                            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=300))
    environment = dict(settings.environment)
    with upload_display(client, console):
        layers = [_published(client, layer, settings.runtime, settings.arch, console)
                  for layer in settings.layers]
        if layer_zip is not None:
            layers.insert(0, publish_layer_if_new(client, packaging.RUNTIME_LAYER_NAME, layer_zip,
                                                  packaging.layer_runtimes(settings.python_dist),
                                                  settings.arch, console.print))
            if settings.runtime.startswith("python"):
                environment.setdefault("AWS_LAMBDA_EXEC_WRAPPER", packaging.EXEC_WRAPPER)
        role = settings.role
        if role is None and settings.create_role:
            role = ensure_role(session.client("iam", endpoint_url=settings.endpoint_url), settings.name,
                               console.print)
        if role is None and settings.endpoint_url is not None:
            role = LOCAL_ROLE
        spec = FunctionSpec(name=settings.name, zip_bytes=zip_bytes, handler=settings.handler,
                            runtime=settings.runtime, role=role, architecture=settings.arch,
                            memory=settings.memory, timeout=settings.timeout, environment=environment,
                            layers=tuple(layers), description=settings.description)
        return Deployer(client, console.print).deploy(spec).arn


@click.command()
@click.argument("name", required=False)
@click.option("--code", type=click.Path(path_type=Path, file_okay=False),
              help="Directory with the function's code; built into a zip with its requirements. [default: .]")
@click.option("--zip", "zip_file", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="A deployment zip to upload as is (instead of building --code).")
@click.option("--handler", help="module.function, e.g. app.handler.")
@click.option("--role", help="Execution role ARN (needed to create a function on AWS).")
@click.option("--create-role", is_flag=True, default=None,
              help="Create (or reuse) NAME-lamina-role with AWSLambdaBasicExecutionRole.")
@click.option("--layer", "layers", multiple=True,
              help="Layer version ARN, or a directory to publish as a layer; in /opt order (repeatable).")
@click.option("--with-layer/--no-layer", "with_layer", default=None,
              help="Build and publish lamina's runtime layer and use it (default for provided.* runtimes "
                   "without a bootstrap of their own).")
@click.option("--python-dist", type=click.Path(path_type=Path, dir_okay=False, exists=True),
              help="python-build-standalone install_only archive: the runtime layer carries this CPython "
                   "(needed for provided.* on AWS).")
@click.option("--runtime", help="provided.al2023 (default), provided.al2 or python3.x.")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), help="Architecture. [default: x86_64]")
@click.option("--memory", type=int, help=f"Memory size in MB. [default: {DEFAULT_MEMORY}]")
@click.option("--timeout", type=int, help=f"Timeout in seconds. [default: {DEFAULT_TIMEOUT}]")
@click.option("--env", "env_pairs", multiple=True, help="Environment variable KEY=VALUE (repeatable).")
@click.option("--endpoint-url", help="A Lambda-compatible endpoint, e.g. lamina serve's http://127.0.0.1:9001.")
@click.option("--region", help="AWS region.")
@click.option("--profile", help="AWS profile.")
def deploy(name: str | None, **options: Any) -> None:
    """Deploy function NAME: create it or update what changed, wait until it is ready, print its ARN."""
    console = stderr_console()
    with failures():
        settings = resolve(name, options)
        zip_bytes, layer_zip = build_zips(settings, console)
        arn = run(settings, zip_bytes, layer_zip, console)
    click.echo(arn)


def _published(client: Any, layer: str, runtime: str, arch: str, console: Console) -> str:
    """A layer version ARN as given, or the ARN of a directory published as a layer (once per content)."""
    if layer.startswith("arn:"):
        return layer
    directory = Path(layer)
    if not directory.is_dir():
        raise click.BadParameter(f"{layer} is neither a layer version ARN nor a directory",
                                 param_hint="--layer")
    return publish_layer_if_new(client, packaging.layer_name_for(directory),
                                packaging.directory_layer_zip(directory), [runtime], arch, console.print)


def _may_have_bootstrap(layer: str) -> bool:
    """A layer ARN may well bring a bootstrap; a layer directory shows whether it does."""
    return layer.startswith("arn:") or (Path(layer) / "bootstrap").is_file()


def _zip_has_bootstrap(zip_bytes: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            return "bootstrap" in zf.namelist()
    except zipfile.BadZipFile:
        return False  # the endpoint judges the zip and answers with Lambda's own error
