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
from lamina.artifacts.elf_check import (
    ElfReport,
    IncompatibleBinaries,
    check_path,
    check_target,
    offenders,
    version_text,
)
from lamina.artifacts.layer import (
    build_dependency_layer_zip,
    build_layer_zip,
    compatible_runtimes,
    dependency_layer_runtimes,
)
from lamina.artifacts.limits import megabytes
from lamina.artifacts.targets import ARCHITECTURES, OPERATING_SYSTEMS, PYTHON_VERSIONS
from lamina.cli.display import stderr_console, steps, warn
from lamina.cli.errors import Command, Group


def console(stderr: bool = False) -> Console:
    if stderr:
        return stderr_console()
    # Outside a terminal (CI logs, pipes) keep paths whole instead of folding them at 80 columns.
    return Console(width=None if sys.stdout.isatty() else 160)


def offenders_table(reports: list[ElfReport], title: str) -> Table:
    table = Table(title=title, title_justify="left")
    for column in ("file", "machine", "GLIBC", "GLIBCXX", "problem"):
        table.add_column(column, overflow="fold")
    for report in reports:
        table.add_row(report.path, report.machine, version_text(report.glibc), version_text(report.glibcxx),
                      "; ".join(report.problems))
    return table


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


python_option = click.option("--python", "python_version", type=click.Choice(PYTHON_VERSIONS), default="3.12",
                             show_default=True, help="Python version of the function's runtime.")
bytecode_option = click.option("--bytecode/--no-bytecode", default=True, show_default=True,
                               help="Ship .pyc (unchecked-hash) for the target Python, so cold starts do "
                                    "not compile.")


@click.command(cls=Command)
@click.option("--code", type=click.Path(path_type=Path), default=Path("."), show_default=True,
              help="Directory with the function's code (the handler's module).")
@click.option("--requirements", type=click.Path(path_type=Path),
              help="requirements.txt, pylock.toml, uv.lock or pyproject.toml (default: the one in --code).")
@arch_option
@python_option
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default=None,
              help="Lambda OS to build for; default: al2 for Python 3.9-3.11, al2023 from 3.12.")
@bytecode_option
@click.option("--out", type=click.Path(path_type=Path), default=Path("dist/function.zip"), show_default=True)
def build(code: Path, requirements: Path | None, arch: str, python_version: str, os_name: str | None,
          bytecode: bool, out: Path) -> None:
    """Build the function's deployment zip: code plus dependencies as wheels for Lambda's platform."""
    err = console(stderr=True)
    with user_errors(), steps(err, f"building {out}") as report:
        build_function_zip(code, out, requirements=requirements, arch=arch, python_version=python_version,
                           os_name=os_name, report=report, bytecode=bytecode, warn=warn(err))
    click.echo(f"built {out} ({megabytes(out.stat().st_size)}, {arch}, Python {python_version})")


@click.group(cls=Group)
def layer() -> None:
    """Lambda layers: lamina's runtime, or a function's dependencies (--requirements)."""


@layer.command("build")
@arch_option
@click.option("--requirements", type=click.Path(path_type=Path, dir_okay=False),
              help="Build a dependency layer (python/) of this requirements.txt, pylock.toml, uv.lock or "
                   "pyproject.toml instead of lamina's runtime layer.")
@click.option("--python", "python_version", type=click.Choice(PYTHON_VERSIONS), default="3.12",
              show_default=True, help="Python of the functions using a dependency layer.")
@bytecode_option
@click.option("--python-dist", type=click.Path(path_type=Path),
              help="python-build-standalone install_only .tar.gz: ship this CPython for provided.al2023.")
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default=None,
              help="Lambda OS the layer's native files must load on; default: al2023, or for a dependency "
                   "layer the OS of --python's managed runtime.")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output zip. [default: dist/lamina-layer.zip, or dist/dependencies-layer.zip]")
def layer_build(arch: str, requirements: Path | None, python_version: str, bytecode: bool,
                python_dist: Path | None, os_name: str | None, out: Path | None) -> None:
    """Build lamina's runtime layer (exec wrapper for python3.x, or a CPython for provided.*), or with
    --requirements a layer of dependencies."""
    err = console(stderr=True)
    if requirements is not None:
        if python_dist is not None:
            raise click.UsageError("pass --requirements or --python-dist, not both")
        out = out or Path("dist/dependencies-layer.zip")
        with user_errors(), steps(err, f"building {out}") as report:
            build_dependency_layer_zip(requirements, out, arch=arch, python_version=python_version,
                                       os_name=os_name, bytecode=bytecode, report=report, warn=warn(err))
        runtimes = " ".join(dependency_layer_runtimes(python_version))
        name = "dependencies"
    else:
        out = out or Path("dist/lamina-layer.zip")
        with user_errors(), steps(err, f"building {out}") as report:
            build_layer_zip(out, arch=arch, python_dist=python_dist, os_name=os_name or "al2023",
                            report=report)
        runtimes = " ".join(compatible_runtimes(python_dist))
        name = "lamina"
    click.echo(f"built {out} ({megabytes(out.stat().st_size)}, {arch})")
    click.echo(f"publish: aws lambda publish-layer-version --layer-name {name} --zip-file fileb://{out} "
               f"--compatible-runtimes {runtimes} --compatible-architectures {arch}")


@click.command(cls=Command)
@click.argument("path", type=click.Path(path_type=Path))
@arch_option
@click.option("--python", "python_version", type=click.Choice(PYTHON_VERSIONS), default=None,
              help="Python the extension modules must be for; default: the bundle's (from its bytecode "
                   "and extension modules).")
@click.option("--os", "os_name", type=click.Choice(OPERATING_SYSTEMS), default=None,
              help="Lambda OS whose glibc and libstdc++ the files must load against; default: the OS of the "
                   "bundle's Python's managed runtime (al2 up to 3.11, else al2023).")
def check(path: Path, arch: str, python_version: str | None, os_name: str | None) -> None:
    """Check that every ELF file in a zip or directory loads on Lambda (CPU, GLIBC, GLIBCXX, CPython ABI,
    musl)."""
    with user_errors():
        target = check_target(path, os_name, python_version)
        reports = check_path(path, arch, target.os_name, target.python_version)
    python = f", Python {target.python_version}" if target.python_version else ""
    where = f"{target.os_name} {arch}{python}"
    bad = offenders(reports)
    if bad:
        title = f"{len(bad)} of {len(reports)} ELF files will not load on {where}"
        console().print(offenders_table(bad, title))
        raise click.ClickException(f"{len(bad)} native file(s) in {path} will not load on {where}: "
                                   "rebuild them or use wheels built for the target")
    click.echo(f"{len(reports)} ELF file(s) in {path}: all load on {where}")
