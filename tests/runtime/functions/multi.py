"""Handlers for multi-concurrency (Lambda Managed Instances) tests."""

import asyncio
import json
import logging
import os
import time

logger = logging.getLogger("multi")
_in_flight = {"now": 0, "max": 0}


def sync_handler(event, context):
    logger.warning("sync %s", context.aws_request_id)
    time.sleep(0.02)
    return {"request_id": context.aws_request_id, "pid": os.getpid(),
            "trace": os.environ.get("_X_AMZN_TRACE_ID")}


async def async_handler(event, context):
    _in_flight["now"] += 1
    _in_flight["max"] = max(_in_flight["max"], _in_flight["now"])
    try:
        await asyncio.sleep(0.05)
        logger.warning(json.dumps({"context_request_id": context.aws_request_id}))
        await asyncio.sleep(0.01)
        return {"request_id": context.aws_request_id, "pid": os.getpid(), "max_in_flight": _in_flight["max"],
                "trace": os.environ.get("_X_AMZN_TRACE_ID")}
    finally:
        _in_flight["now"] -= 1


import lamina  # noqa: E402


@lamina.streaming
async def async_stream(event, context):
    for n in range(3):
        await asyncio.sleep(0.01)
        logger.warning(json.dumps({"context_request_id": context.aws_request_id, "chunk": n}))
        yield f"{context.aws_request_id}:{n};"
