"""Handlers for the differential tests: each exercises one observable behaviour of a Lambda runtime."""

import collections
import decimal
import logging
import os
import sys

logger = logging.getLogger("app")
Point = collections.namedtuple("Point", "x y")


class MyErr(Exception):
    pass


def echo(event, context):
    return event


def none(event, context):
    return None


def hello(event, context):
    return "hello"


def raw_bytes(event, context):
    return b"\x00\x01raw"


def unicode(event, context):
    return {"price": "£1.00", "snow": "☃", "emoji": "😀"}


def decimals(event, context):
    return {"d": decimal.Decimal("1.10"), "n": decimal.Decimal("NaN"), "f": float("inf"),
            "big": decimal.Decimal("12345678901234567890.000001"), "neg": float("-inf")}


def shapes(event, context):
    return {"tuple": (1, 2), "point": Point(1, 2), "points": [Point(3, 4)], "bytes": b"ok",
            "nested": {"k": [True, False, None, 1.5, 2**70]}, 3: "int key", 2.5: "float key",
            None: "none key", True: "bool key"}


def top_tuple(event, context):
    return (1, "two", None)


def bad_marshal(event, context):
    return {"s": {1, 2}}


def bad_bytes(event, context):
    return {"b": b"\xff"}


def bad_key(event, context):
    return {(1, 2): 3}


def raise_value(event, context):
    raise ValueError("bad value")


def raise_empty(event, context):
    raise RuntimeError()


def raise_custom(event, context):
    raise MyErr("custom", 42)


def _inner():
    return {}["k"]


def nested_key(event, context):
    return _inner()


def raise_chained(event, context):
    try:
        raise ValueError("first")
    except ValueError as exc:
        raise KeyError("second") from exc


def context_fields(event, context):
    return {
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "invoked_function_arn": context.invoked_function_arn,
        "identity": repr(context.identity),
        "client_context": repr(context.client_context),
        "w3c": context.w3c(),
        "tenant_id": context.tenant_id,
        "remaining_positive": context.get_remaining_time_in_millis() > 0,
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "context_type": type(context).__name__,
        "attrs": sorted(a for a in vars(context) if not a.startswith("_")),
    }


def client_context(event, context):
    cc = context.client_context
    return {"custom": cc.custom, "env": cc.env, "client": repr(cc.client)} if cc else None


def log_everything(event, context):
    print("plain print")
    print("stderr print", file=sys.stderr)
    logging.debug("debug line")
    logging.info("info line")
    logging.warning("warning line %s", 42)
    logger.error("named logger error")
    logging.warning({"structured": True})
    try:
        raise ValueError("logged")
    except ValueError:
        logging.exception("caught")
    context.log("context log line\n")
    return "logged"


def big_response(event, context):
    return "x" * (7 * 1024 * 1024)


def exit_five(event, context):
    raise SystemExit(5)


not_callable = 5
