"""Sentry initialised, then the module fails to import: the init error Sentry reports."""

import os

import sentry_sdk
from sentry_sdk.integrations.aws_lambda import AwsLambdaIntegration

sentry_sdk.init(dsn=os.environ["SENTRY_DSN"], integrations=[AwsLambdaIntegration()], release="r1",
                environment="test", server_name="fn")

import does_not_exist_for_sentry  # noqa: E402, F401
