"""The region and credentials a function sees locally, resolved as botocore resolves them.

On Lambda a function gets its region and its execution role's credentials. Locally they come from
where the AWS SDKs and CLI of this machine find them: ``AWS_REGION``/``AWS_DEFAULT_REGION`` and the
access-key variables, then ``AWS_PROFILE``'s section of ``AWS_CONFIG_FILE`` and
``AWS_SHARED_CREDENTIALS_FILE`` (``~/.aws/config``, ``~/.aws/credentials``). Only those sources: the
network ones (instance metadata, containers, SSO, assume-role) are left out, so resolving never waits
on a network. A file that exists but cannot be read or parsed, or a profile that is not in them, is an
error (botocore would skip an unreadable file silently).
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Optional

# botocore's credential providers that read no network, in its order.
_LOCAL_PROVIDERS = ("env", "shared-credentials-file", "config-file", "boto-config")
_FILES = (("AWS_CONFIG_FILE", "~/.aws/config"), ("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"))


class AwsConfigError(Exception):
    """The AWS configuration cannot be read (the message is one line, botocore's where it has one)."""


@dataclass(frozen=True)
class AwsContext:
    """A region (None: none configured) and the credentials' variables (empty: none found)."""

    region: Optional[str] = None
    credentials: Mapping[str, str] = field(default_factory=dict)


def _check_readable(environ: Mapping[str, str]) -> None:
    for variable, default in _FILES:
        path = Path(os.path.expanduser(environ.get(variable) or default))
        if path.is_dir():
            raise AwsConfigError(f"Unable to read AWS config file {path}: it is a directory ({variable})")
        if path.exists() and not os.access(path, os.R_OK):
            raise AwsConfigError(f"Unable to read AWS config file {path}: permission denied ({variable})")


def resolve() -> AwsContext:
    """The region and credentials of this process's environment and AWS config files."""
    _check_readable(os.environ)
    profile = os.environ.get("AWS_PROFILE") or os.environ.get("AWS_DEFAULT_PROFILE")
    files = [Path(os.path.expanduser(os.environ.get(variable) or default)) for variable, default in _FILES]
    if not profile and not any(path.exists() for path in files):
        # Nothing but the environment to read: no need to import botocore (lamina invoke starts faster).
        region = os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")
        return AwsContext(region or None, {})
    import botocore.exceptions
    import botocore.session

    try:
        session = botocore.session.Session()
        region = session.get_config_variable("region")
        resolver = session.get_component("credential_provider")
        for provider in list(resolver.providers):
            if provider.METHOD not in _LOCAL_PROVIDERS:
                resolver.remove(provider.METHOD)
        found = resolver.load_credentials()
    except (botocore.exceptions.ProfileNotFound, botocore.exceptions.ConfigParseError,
            botocore.exceptions.PartialCredentialsError) as exc:
        raise AwsConfigError(str(exc)) from None
    credentials: dict[str, str] = {}
    if found is not None:
        frozen = found.get_frozen_credentials()
        credentials = {"AWS_ACCESS_KEY_ID": frozen.access_key, "AWS_SECRET_ACCESS_KEY": frozen.secret_key}
        if frozen.token:
            credentials["AWS_SESSION_TOKEN"] = frozen.token
    return AwsContext(region or None, credentials)
