"""``lamina build``, ``lamina layer build`` and ``lamina check``: parse options, call the artifacts
package, show progress and tables. Every failure the user can fix is one ``Error:`` line and a non-zero
exit (:mod:`lamina.cli.errors`).
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from rich.console import Console
from rich.table import Table

from lamina.artifacts.bundle import build_function_zip
from lamina.artifacts.dependencies import Report
from lamina.artifacts.elf_check import ElfReport, IncompatibleBinaries, check_path, offenders, version_text
from lamina.artifacts.layer import build_layer_zip, compatible_runtimes
from lamina.artifacts.limits import megabytes
from lamina.artifacts.targets import ARCHITECTURES, OPERATING_SYSTEMS, PYTHON_VERSIONS
from lamina.cli.errors import Command, Group


def console(stderr: bool = False) -> Console:
    # Outside a terminal (CI logs, pipes) keep paths whole instead of folding them at 80 columns.
    stream = sys.stderr if stderr else sys.stdout
    return Console(stderr=stderr, width=None if stream.isatty() else 160)


def offenders_table(reports: list[ElfReport], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("file", "machine", "GLIBC", "GLIBCXX", "problem"):
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(report.path, report.machine, version_text(report.glibc), version_text(report.glibcxx),
                      "; ".join(report.problems))
    return table


@contextlib.contextmanager
def progress(message: str) -> Iterator[Report]:
    """A live status line (in a terminal) that the build updates as pip collects and installs."""
    with console(stderr=True).status(message) as status:
        def report(step: str) -> None:
            status.update(f"{message}: {step}")
        yield report


@contextlib.contextmanager
def user_errors() -> Iterator[None]:
    """Show the files that will not load before the error (lamina.cli.errors prints its one line), and
    make a failing disk one ``Error:`` line too."""
    try:
        yield
    except IncompatibleBinaries as err:
        console(stderr=True).print(offenders_table(err.reports, "files that will not load"))
        raise
    except OSError as err:  # a disk that is full or read-only, a path we may not write: still one line
        raise click.ClickException(f"{err}: check the path and free space, then build again") from err


arch_option = click.option("--arch", type=click.Choice(ARCHITECTURES), default="x86_64", show_default=True,
                           help="Lambda architecture of the function.")


@click.command(cls=Command)
@click.option("--code", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Directory with the function's code (the handler's module).")
@click.option("--requirements", type=click.Path(path_type=Path),
              help="requirements.txt or pyproject.toml (default: the one in --code).")
@arch_option
@click.option("--python", "python_version", type=click.Choice(PYTHON_VERSIONS), default="3.12",
              show_default=True, help="Python version of the function's runtime.")
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default=None,
              help="Lambda OS to build for; default: al2 for Python 3.9-3.11, al2023 from 3.12.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist/function.zip"), show_default=True)
def build(code: Path, requirements: Path | None, arch: str, python_version: str, os_name: str | None,
          out: Path) -> None:
    """Build the function's deployment zip: code plus dependencies as wheels for Lambda's platform."""
    with user_errors(), progress(f"building {out}") as report:
        build_function_zip(code, out, requirements=requirements, arch=arch, python_version=python_version,
                           os_name=os_name, report=report)
    click.echo(f"built {out} ({megabytes(out.stat().st_size)}, {arch}, Python {python_version})")


@click.group(cls=Group)
def layer() -> None:
    """Lambda layers that carry lamina's runtime."""


@layer.command("build")
@arch_option
@click.option("--python-dist", type=click.Path(path_type=Path),
              help="python-build-standalone install_only .tar.gz: ship this CPython for provided.al2023.")
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default="al2023", show_default=True,
              help="Lambda OS the bundled interpreter must load on.")
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist/lamina-layer.zip"),
              show_default=True)
def layer_build(arch: str, python_dist: Path | None, os_name: str, out: Path) -> None:
    """Build lamina's runtime layer (exec wrapper for python3.x, or a CPython for provided.*)."""
    with user_errors(), progress(f"building {out}") as report:
        build_layer_zip(out, arch=arch, python_dist=python_dist, os_name=os_name, report=report)
    runtimes = " ".join(compatible_runtimes(python_dist))
    click.echo(f"built {out} ({megabytes(out.stat().st_size)}, {arch})")
    click.echo(f"publish: aws lambda publish-layer-version --layer-name lamina --zip-file fileb://{out} "
               f"--compatible-runtimes {runtimes} --compatible-architectures {arch}")


@click.command(cls=Command)
@click.argument("path", type=click.Path(path_type=Path))
@arch_option
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default="al2023", show_default=True,
              help="Lambda OS whose glibc and libstdc++ the files must load against.")
def check(path: Path, arch: str, os_name: str) -> None:
    """Check that every ELF file in a zip or directory loads on Lambda (CPU, GLIBC, GLIBCXX)."""
    with user_errors():
        reports = check_path(path, arch, os_name)
    bad = offenders(reports)
    if bad:
        console().print(offenders_table(bad, f"{len(bad)} of {len(reports)} ELF files will not load on "
                                             f"{os_name} {arch}"))
        raise click.ClickException(f"{len(bad)} native file(s) in {path} will not load on {os_name} {arch}: "
                                   "rebuild them or use wheels built for the target")
    click.echo(f"{len(reports)} ELF file(s) in {path}: all load on {os_name} {arch}")
