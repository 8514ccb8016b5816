"""The boto3 session behind ``lamina deploy`` and ``lamina invoke --remote``."""

from __future__ import annotations

import boto3
from botocore.exceptions import BotoCoreError

from lamina.deploy.errors import DeployError
from lamina.local.model.names import DEFAULT_REGION


def lambda_session(profile: str | None, region: str | None, endpoint_url: str | None) -> boto3.Session:
    """A boto3 session; a custom endpoint (lamina serve, moto) without a configured region gets the
    local Lambda's region (us-east-1)."""
    try:
        session = boto3.Session(profile_name=profile, region_name=region)
    except BotoCoreError as exc:
        raise DeployError(str(exc)) from None
    if session.region_name is None:
        if endpoint_url is None:
            raise DeployError("no AWS region: pass --region or set AWS_REGION")
        session = boto3.Session(profile_name=profile, region_name=DEFAULT_REGION)
    return session
