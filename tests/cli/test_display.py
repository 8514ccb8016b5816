"""Build and deploy progress: live step lines in a terminal, nothing drawn outside one."""

from __future__ import annotations

import io

from rich.console import Console

from lamina.cli import display


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100, color_system=None), out


def test_each_finished_step_stays_as_one_line_in_a_terminal() -> None:
    console, out = _console(terminal=True)
    with display.steps(console, "building") as report:
        report("resolving requirements")
        report("resolving more")  # the same kind of step: the same line
        report("installing 4 packages")
        report("zipping")
    shown = out.getvalue()
    assert "resolving more (" in shown and "installing 4 packages (" in shown
    assert "resolving requirements (" not in shown  # replaced by the step of the same kind after it


def test_nothing_is_drawn_outside_a_terminal_but_warnings_are_written() -> None:
    console, out = _console(terminal=False)
    with display.steps(console, "building") as report, display.upload_bar(console) as advance:
        report("resolving requirements")
        report("zipping")
        advance(10, 100)
    display.warn(console)("no Python 3.12 on this machine")
    assert out.getvalue() == "warning: no Python 3.12 on this machine\n"


def test_a_finished_upload_leaves_no_bar_behind_in_a_terminal() -> None:
    console, out = _console(terminal=True)
    with display.upload_bar(console) as advance:
        advance(512 * 1024, 1024 * 1024)
        advance(1024 * 1024, 1024 * 1024)
    assert "uploading" not in out.getvalue().rsplit("\r", 1)[-1]  # transient: gone once done
