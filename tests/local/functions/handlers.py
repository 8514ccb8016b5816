"""Handlers the local Lambda's tests invoke, under awslambdaric or lamina's runtime."""

import os
import signal
import subprocess
import time


def echo(event, context):
    return event


def echo_with_id(event, context):
    return {"event": event, "request_id": context.aws_request_id}


def context_info(event, context):
    client = context.client_context
    return {
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "invoked_function_arn": context.invoked_function_arn,
        "memory_limit_in_mb": context.memory_limit_in_mb,
        "remaining_ms": context.get_remaining_time_in_millis(),
        "log_group_name": context.log_group_name,
        "log_stream_name": context.log_stream_name,
        "client_custom": client.custom if client else None,
        "env": {key: os.environ.get(key) for key in (
            "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_VERSION", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
            "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_REGION", "TZ", "LAMBDA_TASK_ROOT", "_HANDLER",
            "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_EXECUTION_ENV", "GREETING")},
        "trace_id": os.environ.get("_X_AMZN_TRACE_ID"),
        "cwd": os.getcwd(),
        "pid": os.getpid(),
    }


def fail(event, context):
    raise ValueError("kaboom")


def log_and_return(event, context):
    print("a line from the handler")
    return {"ok": True}


def sleep(event, context):
    time.sleep(event.get("seconds", 1))
    return {"slept": event.get("seconds", 1), "pid": os.getpid()}


def sleep_window(event, context):
    began = time.time()
    time.sleep(event.get("seconds", 1))
    return {"pid": os.getpid(), "began": began, "ended": time.time()}


def crash(event, context):
    os._exit(event.get("code", 3))


def kill_self(event, context):
    os.kill(os.getpid(), signal.SIGKILL)


def big(event, context):
    return "x" * event["size"]


def hog(event, context):
    block = bytearray(event["mb"] * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(5)
    return len(block)


def spawn_child(event, context):
    child = subprocess.Popen(["sleep", "60"])
    return {"pid": os.getpid(), "child": child.pid}


def write_marker(event, context):
    with open(event["path"], "a") as marker:
        marker.write(context.aws_request_id + "\n")
    return None


def pid(event, context):
    return os.getpid()


def recurse_forever(event, context):
    """A RecursionError: awslambdaric's X-Ray cause for it is hundreds of KB in one header."""
    def down(n):
        return down(n + 1)

    return down(0)


def write_partial(event, context):
    """Output without a trailing newline, then a line with a carriage return inside it."""
    import sys

    if event.get("cr"):
        sys.stdout.write("one\rline\r\n")
    sys.stdout.write(f"partial-{event['n']}")
    sys.stdout.flush()
    return event["n"]


def context_and_credentials(event, context):
    return {"region": [os.environ.get("AWS_REGION"), os.environ.get("AWS_DEFAULT_REGION")],
            "credentials": [os.environ.get(key) for key in (
                "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")],
            "arn": context.invoked_function_arn}
