"""Sentry's AWS Lambda integration, reporting to the local sink named by ``SENTRY_DSN``."""

import logging
import os

import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], integrations=[AwsLambdaIntegration()], traces_sample_rate=1.0,
                release="r1", environment="test", server_name="fn")


def _fail(depth):
    if depth:
        return _fail(depth - 1)
    raise ValueError("sentry should see this")


def ok(event, context):
    logging.warning("handled %s", context.aws_request_id)
    return {"ok": True}


def fail(event, context):
    return _fail(2)
