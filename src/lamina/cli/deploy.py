"""``lamina deploy``: build what is missing, publish the runtime layer, create or update the function.

Options override the project file (``[tool.lamina.functions.NAME]``), which overrides Lambda's
defaults. Progress goes to stderr; the function's ARN, the one result, goes to stdout.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from lamina.cli.display import stderr_console, steps, upload_bar, warn
from lamina.cli.errors import Command
from lamina.cli.options import environment_option
from lamina.deploy.function import deploy_function
from lamina.deploy.packaging import function_zip, runtime_layer_zip
from lamina.deploy.settings import DEFAULT_MEMORY, DEFAULT_TIMEOUT, resolve_settings


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
@click.option("--s3-bucket", help="Upload the zips through this S3 bucket (same region): needed past "
                                  "Lambda's 50 MiB for a direct upload.")
@click.option("--bytecode/--no-bytecode", default=None,
              help="Ship .pyc for the runtime's Python (default: on).")
@click.option("--rebuild", is_flag=True, default=None,
              help="Build the zip even when its inputs are those of an earlier build.")
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
    with steps(console, f"building {settings.name}") as report:
        zip_bytes = function_zip(settings, report=report, warn=warn(console),
                                 reused=lambda key: console.print(f"{settings.name}: inputs unchanged, using "
                                                                  f"the zip built from them ({key[:12]})"))

    def runtime_layer() -> bytes:
        on_aws = not settings.endpoint_url
        if settings.runtime.startswith("provided") and settings.python_dist is None and on_aws:
            warn(console)("Lambda's provided.* runtimes have no python3: pass --python-dist (a "
                          "python-build-standalone archive) so the layer carries its own")
        with steps(console, "building lamina's runtime layer") as report:
            return runtime_layer_zip(settings.arch, settings.python_dist, report=report,
                                     rebuild=settings.rebuild)

    with upload_bar(console) as advance:
        arn = deploy_function(settings, zip_bytes, lambda line: console.print(line, highlight=False), advance,
                              runtime_layer)
    click.echo(arn)
