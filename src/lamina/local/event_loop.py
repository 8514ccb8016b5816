"""The event loop ``lamina serve`` and ``lamina invoke`` run on: uvloop's where it is installed.

An invocation through ``lamina serve`` passes through the event loop about a dozen times (the
caller's request, the runtime's ``next`` and its ``/response``, each read, handed to a task and
answered), and most of an invocation's cost is those passes and their system calls, not lamina's
own code. uvloop's loop (libuv, in C) makes each pass cheaper: about 10% off sequential invoke
latency measured with ``bench/local_bench.py``. asyncio's own loop stays the fallback (uvloop is
not built for Windows) and is what the in-process tests run on, so both loops are exercised.
"""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T], fast_loop: bool = True) -> T:
    """``asyncio.run(main)`` on uvloop's event loop when uvloop is installed (and ``fast_loop``).

    ``lamina invoke`` runs one invocation and exits: importing uvloop costs it more than its loop saves.
    """
    if not fast_loop:
        return asyncio.run(main)
    try:
        import uvloop
    except ImportError:
        return asyncio.run(main)
    return uvloop.run(main)
