"""``lamina invoke --remote NAME``: invoke a deployed function through the Invoke API (boto3).

The payload goes to stdout, the decoded tail of the invocation's log (``LogType=Tail``) to stderr, and
the exit status is 1 when Lambda reports a function error (``X-Amz-Function-Error``), so scripts and CI
can use it like ``lamina invoke`` on a local handler.
"""

from __future__ import annotations

import base64
import sys
from typing import IO

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lamina.deploy.deployer import aws_error
from lamina.deploy.errors import RemoteInvokeError
from lamina.deploy.session import lambda_session


def invoke_remote(session: boto3.Session, name: str, payload: bytes, endpoint_url: str | None = None,
                  stdout: IO[bytes] | None = None, stderr: IO[str] | None = None) -> int:
    """Invoke ``name`` once; write payload and log tail; return the exit status (1 on function error)."""
    out = stdout or sys.stdout.buffer
    err = stderr or sys.stderr
    # a function error is an answer, not a failure to retry: one attempt, and up to 15 minutes of run
    client = session.client("lambda", endpoint_url=endpoint_url,
                            config=Config(retries={"total_max_attempts": 1}, read_timeout=905))
    try:
        response = client.invoke(FunctionName=name, Payload=payload, LogType="Tail")
    except (ClientError, BotoCoreError) as exc:
        raise RemoteInvokeError(aws_error(exc)) from None
    log_result = response.get("LogResult")
    if log_result:
        err.write(base64.b64decode(log_result).decode("utf-8", "replace"))
        err.flush()
    out.write(response["Payload"].read() + b"\n")
    out.flush()
    return 1 if response.get("FunctionError") else 0


def main(name: str, payload: bytes, endpoint_url: str | None, region: str | None, profile: str | None) -> int:
    """``lamina invoke --remote``: the exit status; raises RemoteInvokeError (or DeployError) when
    nothing ran."""
    return invoke_remote(lambda_session(profile, region, endpoint_url), name, payload, endpoint_url)
