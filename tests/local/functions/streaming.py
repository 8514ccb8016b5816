"""Functions for the streaming relay tests (with tests/runtime/functions/streams.py, the runtime's own)."""

import os
import time

import lamina


@lamina.streaming(content_type="text/plain")
def until_marker(event, context):
    """Streams a chunk, then waits for the caller to have seen it (the marker file) before finishing.

    The marker's path is the event's ``marker``, or the ``marker`` query parameter behind the HTTP front.
    """
    marker = event["marker"] if "marker" in event else event["queryStringParameters"]["marker"]
    yield b"first;"
    deadline = time.monotonic() + 20
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"marker-seen" if os.path.exists(marker) else b"marker-missing"


@lamina.streaming
def mebibytes(event, context):
    chunk = b"z" * (1024 * 1024)
    for _ in range(event.get("mib", 1)):
        yield chunk


def whole(event, context):
    print("whole response")
    return {"whole": True}


@lamina.streaming
def stall(event, context):
    yield b"started"
    time.sleep(60)
    yield b"never"
