"""SnapStart hooks registered through snapshot-restore-py; order recorded in a file the test reads."""

import os

from snapshot_restore_py import register_after_restore, register_before_snapshot

ORDER_FILE = os.environ["HOOK_ORDER_FILE"]


def _record(name):
    with open(ORDER_FILE, "a") as f:
        f.write(name + "\n")
    if os.environ.get("HOOK_FAIL") == name:
        raise RuntimeError(f"hook {name} failed")


for name in ("b1", "b2"):
    register_before_snapshot(_record, name)
for name in ("a1", "a2"):
    register_after_restore(_record, name)


def h(event, context):
    _record("invoke")
    return "ok"
