"""Streaming handlers for the response-streaming tests."""

import asyncio
import os
import time

import lamina


@lamina.streaming
def chunks(event, context):
    yield b"first,"
    yield "second,"
    yield b"third"


@lamina.streaming(content_type="text/plain")
def wait_for_marker(event, context):
    yield b"before-marker;"
    deadline = time.monotonic() + 10
    while not os.path.exists(event["marker"]) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"after-marker"


@lamina.streaming
def http(event, context):
    def body():
        yield "<h1>hi</h1>"
    return lamina.StreamingResponse(body(), status_code=201, headers={"content-type": "text/html"},
                                    cookies=["a=b"])


@lamina.streaming
def writer(event, context, stream):
    stream.http_response(200, {"x-test": "1"})
    for n in range(3):
        stream.write(f"line {n}\n")


@lamina.streaming
async def async_chunks(event, context):
    for n in range(3):
        await asyncio.sleep(0)
        yield f"a{n};"


@lamina.streaming
def fail_midway(event, context):
    yield b"partial"
    raise ValueError("broke mid-stream")


@lamina.streaming
def fail_first(event, context):
    raise ValueError("broke before streaming")
    yield b"never"


@lamina.streaming
def bad_chunk(event, context):
    yield b"ok"
    yield 42


@lamina.streaming
def hundred_mib(event, context):
    chunk = b"z" * (1024 * 1024)
    for _ in range(100):
        yield chunk


@lamina.streaming
def plain_value(event, context):
    return {"not": "iterable chunks"}
