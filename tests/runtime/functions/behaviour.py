"""Handlers for lamina's behaviour beyond awslambdaric: async, signals, hostile output, hooks."""

import asyncio
import os
import sys
import time

_state = {"loop": None, "queue": None, "count": 0}


async def async_handler(event, context):
    loop = asyncio.get_running_loop()
    if _state["queue"] is None:  # a client-like object bound to the loop, created on first use
        _state["queue"] = asyncio.Queue()
        _state["loop"] = id(loop)
    await _state["queue"].put(event)
    item = await _state["queue"].get()
    _state["count"] += 1
    return {"same_loop": _state["loop"] == id(loop), "count": _state["count"], "item": item,
            "request_id": context.aws_request_id}


async def async_raise(event, context):
    await asyncio.sleep(0)
    raise ValueError("async bad")


def close_stdout(event, context):
    sys.stdout.close()
    raise RuntimeError("stdout is gone")


def huge_print(event, context):
    sys.stdout.write("y" * (8 * 1024 * 1024) + "\n")
    return {"printed": True}


def slow(event, context):
    if event.get("marker"):
        open(event["marker"], "w").close()  # tells the test the invocation is running
    time.sleep(float(event.get("seconds", 1)))
    return {"slept": True}


def pid(event, context):
    return {"pid": os.getpid()}


def trace(event, context):
    return os.environ.get("_X_AMZN_TRACE_ID")
