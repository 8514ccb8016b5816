"""What the build and deploy commands show while they work: one live line per step, a bar per upload.

In a terminal (stderr), a spinner names the current step (resolving, downloading, installing,
compiling, checking, zipping, uploading) with the time it has taken, and each finished step stays as
one line; outside a terminal (CI logs, pipes) nothing is drawn, and only warnings and the result
lines are written.
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Callable, Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TransferSpeedColumn,
)

Report = Callable[[str], None]
Advance = Callable[[int, int], None]


def stderr_console() -> Console:
    # Outside a terminal keep paths whole instead of folding them at 80 columns.
    return Console(stderr=True, width=None if sys.stderr.isatty() else 160)


def interactive(console: Console) -> bool:
    return console.is_terminal and not console.is_dumb_terminal


def warn(console: Console) -> Report:
    """Warnings are shown in and out of a terminal: they say what the result lacks."""
    return lambda line: console.print(f"[yellow]warning:[/] {line}", highlight=False)


@contextlib.contextmanager
def steps(console: Console, title: str) -> Iterator[Report]:
    """A live line for the step being done (``report(step)`` starts the next); quiet outside a terminal."""
    if not interactive(console):
        yield lambda step: None
        return
    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task(title)
        started = time.monotonic()
        current = ""

        def report(step: str) -> None:
            nonlocal started, current
            kind = step.split(" ", 1)[0]
            if current and kind != current.split(" ", 1)[0]:
                progress.console.print(f"[dim]{current} ({time.monotonic() - started:.1f}s)[/]",
                                       highlight=False)
                started = time.monotonic()
                progress.reset(task)
            current = step
            progress.update(task, description=f"{title}: {step}")

        yield report


@contextlib.contextmanager
def upload_bar(console: Console) -> Iterator[Advance]:
    """A transfer bar for each large upload made inside the block; quiet outside a terminal."""
    if not interactive(console):
        yield lambda sent, total: None
        return
    columns = (TextColumn("uploading"), BarColumn(), DownloadColumn(), TransferSpeedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        task = progress.add_task("upload", total=None, visible=False)

        def advance(sent: int, total: int) -> None:
            progress.update(task, completed=sent, total=total, visible=sent < total)

        yield advance
