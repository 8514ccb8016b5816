"""Functions for the streaming relay tests: streamed and buffered responses through lamina serve."""

import os
import time

import lamina


@lamina.streaming(content_type="text/plain")
def until_marker(event, context):
    """Streams a chunk, then waits for the caller to have seen it (the marker file) before finishing."""
    yield b"first;"
    deadline = time.monotonic() + 20
    while not os.path.exists(event["marker"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"marker-seen" if os.path.exists(event["marker"]) else b"marker-missing"


@lamina.streaming
def fail_midway(event, context):
    yield b"partial"
    raise ValueError("broke mid-stream")


@lamina.streaming
def fail_first(event, context):
    raise ValueError("broke before streaming")
    yield b"never"


@lamina.streaming
def mebibytes(event, context):
    chunk = b"z" * (1024 * 1024)
    for _ in range(event.get("mib", 1)):
        yield chunk


@lamina.streaming
def http(event, context):
    return lamina.StreamingResponse(iter([b"<h1>hi</h1>"]), status_code=201,
                                    headers={"content-type": "text/html"}, cookies=["a=b"])


def whole(event, context):
    print("whole response")
    return {"whole": True}


@lamina.streaming
def stall(event, context):
    yield b"started"
    time.sleep(60)
    yield b"never"


@lamina.streaming
def bad_chunk(event, context):
    yield b"ok"
    yield 42
