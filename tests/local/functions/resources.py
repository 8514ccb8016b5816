"""Handlers that push the local Lambda's resource bounds: output volume, child processes, memory."""

import os
import subprocess
import sys
import time


def print_output(event, context):
    """Write ``mb`` MiB to stdout in ``line_kb`` KiB lines (0: no newline at all), then a last line."""
    chunk_size = 64 * 1024
    line_kb = event.get("line_kb", 64)
    total = event["mb"] * 1024 * 1024
    if line_kb:
        line = b"x" * (line_kb * 1024 - 1) + b"\n"
        chunk = line * max(1, chunk_size // len(line))
    else:
        chunk = b"y" * chunk_size
    out = sys.stdout.buffer
    began = time.time()
    written = 0
    pause = event.get("pause_per_mb", 0.0)  # seconds: stretches the output over time
    while written < total:
        out.write(chunk)
        written += len(chunk)
        if pause and written % (1024 * 1024) == 0:
            out.flush()
            time.sleep(pause)
    out.flush()
    printed = time.time()
    print("\nthe last line of the output", flush=True)
    return {"began": began, "printed": printed, "written": written}


def stamp(event, context):
    return {"at": time.time()}


def idle_children(event, context):
    """Start ``count`` idle ``sleep`` processes (they stay with the environment)."""
    global _children
    _children = [subprocess.Popen(["sleep", "600"]) for _ in range(event["count"])]
    return {"children": [child.pid for child in _children], "pid": os.getpid()}


_children: list = []
_hog: list = []


def allocate(event, context):
    """Keep ``mb`` MiB of touched memory."""
    _hog.append(bytearray(b"\x01") * (event["mb"] * 1024 * 1024))  # touched, so resident
    time.sleep(event.get("hold", 1.0))
    return {"held_mb": event["mb"]}
