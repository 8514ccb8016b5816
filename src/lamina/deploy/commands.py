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
from pathlib import Path
from typing import Any

import click
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from lamina.build.errors import BuildError

from . import packaging
from .deployer import (
    DEFAULT_MEMORY,
    DEFAULT_TIMEOUT,
    Deployer,
    DeployFailed,
    FunctionSpec,
    aws_error,
    ensure_role,
    publish_layer_if_new,
)
from .project import ProjectError, function_defaults
from .session import lambda_session
from .upload import upload_progress

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
@click.option("--with-layer", is_flag=True, default=None,
              help="Build and publish lamina's runtime layer and use it (default for provided.* runtimes "
                   "without a bootstrap of their own).")
@click.option("--runtime", help="provided.al2023 (default), provided.al2 or python3.x.")
@click.option("--arch", type=click.Choice(["x86_64", "arm64"]), help="Architecture. [default: x86_64]")
@click.option("--memory", type=int, help=f"Memory size in MB. [default: {DEFAULT_MEMORY}]")
@click.option("--timeout", type=int, help=f"Timeout in seconds. [default: {DEFAULT_TIMEOUT}]")
@click.option("--env", "env_pairs", multiple=True, help="Environment variable KEY=VALUE (repeatable).")
@click.option("--endpoint-url", help="A Lambda-compatible endpoint, e.g. lamina serve's http://127.0.0.1:9001.")
@click.option("--region", help="AWS region.")
@click.option("--profile", help="AWS profile.")
def deploy(name: str | None, code: Path | None, zip_file: Path | None, handler: str | None, role: str | None,
           create_role: bool | None, layers: tuple[str, ...], with_layer: bool | None, runtime: str | None,
           arch: str | None, memory: int | None, timeout: int | None, env_pairs: tuple[str, ...],
           endpoint_url: str | None, region: str | None, profile: str | None) -> None:
    """Deploy function NAME: create it or update what changed, wait until it is ready, print its ARN."""
    console = stderr_console()
    with failures():
        name, project = function_defaults(Path.cwd(), name)
        if not name:
            raise click.UsageError("name the function: lamina deploy NAME (or describe it in "
                                   "[tool.lamina.functions.NAME] of pyproject.toml)")
        if code is not None and zip_file is not None:
            raise click.UsageError("pass --code or --zip, not both")

        def pick(value: Any, key: str, default: Any = None) -> Any:
            return value if value is not None else project.get(key, default)

        runtime = pick(runtime, "runtime", "provided.al2023")
        arch = pick(arch, "arch", "x86_64")
        handler = pick(handler, "handler")
        if not handler:
            raise click.UsageError("pass --handler module.function (e.g. app.handler)")
        endpoint_url = pick(endpoint_url, "endpoint_url")
        environment = {**{str(k): str(v) for k, v in dict(project.get("env", {})).items()},
                       **parse_env(env_pairs)}
        layer_arns = list(layers) or list(project.get("layers", []))
        zip_path = zip_file or (Path(project["zip"]) if "zip" in project and code is None else None)
        code_dir = code or Path(project.get("code", "."))

        session = lambda_session(pick(profile, "profile"), pick(region, "region"), endpoint_url)
        client = session.client("lambda", endpoint_url=endpoint_url,
                                config=Config(retries={"mode": "standard", "max_attempts": 3},
                                              read_timeout=300))

        with console.status("building") as status:
            if zip_path is not None:
                zip_bytes = zip_path.read_bytes()
            else:
                zip_bytes = packaging.function_zip(code_dir, runtime, arch,
                                                   report=lambda step: status.update(f"building: {step}"))
            own_bootstrap = _zip_has_bootstrap(zip_bytes)
            use_layer = pick(with_layer, "with_layer")
            if use_layer is None:
                use_layer = runtime.startswith("provided") and not layer_arns and not own_bootstrap
            layer_zip = packaging.runtime_layer_zip(arch, report=lambda step: status.update(
                f"building runtime layer: {step}")) if use_layer else None

        with upload_display(client, console):
            layer_arns = [_published(client, layer, runtime, arch, console) for layer in layer_arns]
            if layer_zip is not None:
                layer_arn = publish_layer_if_new(client, packaging.RUNTIME_LAYER_NAME, layer_zip,
                                                 packaging.RUNTIME_LAYER_RUNTIMES, arch, console.print)
                layer_arns.insert(0, layer_arn)
                if runtime.startswith("python"):
                    environment.setdefault("AWS_LAMBDA_EXEC_WRAPPER", packaging.EXEC_WRAPPER)
            role = pick(role, "role")
            if role is None and pick(create_role, "create_role", False):
                iam = session.client("iam", endpoint_url=endpoint_url)
                role = ensure_role(iam, name, console.print)
            if role is None and endpoint_url is not None:
                role = LOCAL_ROLE
            spec = FunctionSpec(
                name=name, zip_bytes=zip_bytes, handler=handler, runtime=runtime, role=role,
                architecture=arch, memory=int(pick(memory, "memory", DEFAULT_MEMORY)),
                timeout=int(pick(timeout, "timeout", DEFAULT_TIMEOUT)), environment=environment,
                layers=tuple(layer_arns), description=project.get("description"))
            outcome = Deployer(client, console.print).deploy(spec)
    click.echo(outcome.arn)


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


def _zip_has_bootstrap(zip_bytes: bytes) -> bool:
    try:
        with zipfile.ZipFile(io.BytesIO(zip_bytes)) as zf:
            return "bootstrap" in zf.namelist()
    except zipfile.BadZipFile:
        return False  # the endpoint judges the zip and answers with Lambda's own error
