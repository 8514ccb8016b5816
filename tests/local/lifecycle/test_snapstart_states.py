"""SnapStart's snapshot point and restore as states of the single-invocation lifecycle, without sockets."""

from __future__ import annotations

import json

from lamina.local.lifecycle.single import Lifecycle
from lamina.local.lifecycle.states import Kind, State, Wait
from lamina.local.model import log_lines
from lamina.runtime import error_types


def test_restore_paths_do_not_exist_outside_snapstart_environments() -> None:
    lifecycle = Lifecycle()
    assert lifecycle.restore_next(0.0) == (None, False)
    assert lifecycle.restore_error_posted(0.0, b"{}", None, None) is None
    assert lifecycle.restore_duration_ms is None


def test_restore_begins_at_the_snapshot_point_once_and_ends_at_the_first_next() -> None:
    lifecycle = Lifecycle(snap_start=True)
    reply, began = lifecycle.restore_next(10.0)
    assert reply is not None and (reply.status, reply.body, began) == (200, b"", True)
    reply, began = lifecycle.restore_next(10.5)  # asked again: still restoring, no second RESTORE_START
    assert reply is not None and reply.status == 200 and not began
    assert lifecycle.restore_finished(10.25) == 250.0
    assert lifecycle.restore_finished(11.0) is None  # the RESTORE_REPORT line is written once
    assert isinstance(lifecycle.next_requested(), Wait)
    assert lifecycle.restore_duration_ms == 250.0


def test_restore_next_after_init_is_refused_as_lambda_refuses_the_transition() -> None:
    lifecycle = Lifecycle(snap_start=True)
    assert isinstance(lifecycle.next_requested(), Wait)
    reply, began = lifecycle.restore_next(1.0)
    assert reply is not None and reply.status == 403 and not began
    assert json.loads(reply.body) == {
        "errorMessage": "State transition from Ready to Restoring failed for runtime. "
                        "Error: State transition is not allowed",
        "errorType": error_types.INVALID_STATE_TRANSITION}


def test_failed_after_restore_hook_fails_the_init_with_the_after_restore_error_type() -> None:
    lifecycle = Lifecycle(snap_start=True)
    lifecycle.restore_next(10.0)  # the clock is passed in: the figures below are exact, not timed
    ended = lifecycle.restore_error_posted(10.25, b'{"errorMessage":"boom","errorType":""}', None, None)
    assert ended is not None
    reply, outcome = ended
    assert reply.status == 202 and outcome is None  # no invocation was waiting yet
    assert lifecycle.state is State.INIT_ERROR
    assert lifecycle.init_error is not None and lifecycle.init_error.kind is Kind.INIT_ERROR
    assert lifecycle.init_error.error_type == error_types.AFTER_RESTORE_ERROR
    assert lifecycle.restore_duration_ms == 250.0  # 10.25 - 10.0 on the clock it was given


def test_restore_log_lines_are_lambdas() -> None:
    assert log_lines.restore_start("python3.12") == "RESTORE_START Runtime Version: python3.12"
    assert log_lines.restore_report(12.345) == "RESTORE_REPORT Restore Duration: 12.35 ms"
    assert log_lines.restore_report(1.0, "Runtime.AfterRestoreError") == (
        "RESTORE_REPORT Restore Duration: 1.00 ms\tStatus: error\tError Type: Runtime.AfterRestoreError")
