"""Logging from threads, and recursion as deep as the runtime allows."""

import logging
import threading
import traceback
from concurrent.futures import ThreadPoolExecutor


def _part(n):
    logging.warning("fetched part %d", n)
    return n


def fan_out(event, context):
    with ThreadPoolExecutor(max_workers=2) as pool:
        parts = [pool.submit(_part, n).result() for n in range(3)]  # one at a time: a stable log order
    thread = threading.Thread(target=logging.error, args=("from a plain thread",))
    thread.start()
    thread.join()
    return parts


def _down(n):
    return _down(n + 1)


def recurse(event, context):
    return _down(0)


def recurse_printed(event, context):
    try:
        _down(0)
    except RecursionError:
        print(traceback.format_exc())
    return "printed"
