"""``lamina deploy``: build what is missing, publish the runtime layer, create or update the function.

Options override the project file (``[tool.lamina.functions.NAME]``), which overrides Lambda's
defaults. Progress goes to stderr; the function's ARN, the one result, goes to stdout.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TransferSpeedColumn

from lamina.cli.errors import Command
from lamina.cli.options import environment_option
from lamina.deploy.function import deploy_function
from lamina.deploy.packaging import build_zips
from lamina.deploy.settings import DEFAULT_MEMORY, DEFAULT_TIMEOUT, resolve_settings
from lamina.deploy.upload import Advance


def stderr_console() -> Console:
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


@contextlib.contextmanager
def upload_bar(console: Console) -> Iterator[Advance]:
    """A transfer bar for each large upload made inside the block (fed by the ``Advance`` yielded)."""
    columns = (TextColumn("uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("upload", total=None, visible=False)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total, visible=sent < total)

        yield advance


@click.command(cls=Command)
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
def deploy(name: str | None, zip_file: Path | None, env_pairs: tuple[str, ...], **options: Any) -> None:
    """Deploy function NAME: create it or update what changed, wait until it is ready, print its ARN."""
    if options["code"] is not None and zip_file is not None:
        raise click.UsageError("pass --code or --zip, not both")
    console = stderr_console()
    settings = resolve_settings(name, {**options, "zip": zip_file, "env": environment_option(env_pairs)},
                                Path.cwd())
    with console.status("building") as status:
        zip_bytes, layer_zip = build_zips(settings, report=status.update,
                                          warn=lambda line: console.print(f"[yellow]warning:[/] {line}"))
    with upload_bar(console) as advance:
        arn = deploy_function(settings, zip_bytes, layer_zip, console.print, advance)
    click.echo(arn)
