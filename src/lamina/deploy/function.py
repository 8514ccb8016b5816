"""``lamina deploy`` once its zips are built: publish the layers, make sure of a role, create or update
the function (:class:`~lamina.deploy.deployer.Deployer`) and return its ARN.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lamina.deploy import packaging
from lamina.deploy.deployer import (
    Deployer,
    FunctionSpec,
    Notify,
    aws_error,
    ensure_role,
    publish_layer_if_new,
)
from lamina.deploy.errors import DeployError
from lamina.deploy.session import lambda_session
from lamina.deploy.settings import Settings
from lamina.deploy.upload import Advance, upload_progress
from lamina.local.model.names import DEFAULT_ACCOUNT

__all__ = ["LOCAL_ROLE", "deploy_function"]

LOCAL_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/lamina-local"  # a Lambda-compatible endpoint needs one


def deploy_function(settings: Settings, zip_bytes: bytes, layer_zip: bytes | None, notify: Notify,
                    advance: Advance) -> str:
    """Publish layers, make sure of the role, create or update the function; return its ARN.

    Progress goes to ``notify``, the bytes of each large upload to ``advance``; any failure is a
    :class:`DeployError`.
    """
    try:
        return _deploy(settings, zip_bytes, layer_zip, notify, advance)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(aws_error(exc)) from None


def _deploy(settings: Settings, zip_bytes: bytes, layer_zip: bytes | None, notify: Notify,
            advance: Advance) -> str:
    session = lambda_session(settings.profile, settings.region, settings.endpoint_url)
    client = session.client("lambda", endpoint_url=settings.endpoint_url,
                            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=300))
    environment = dict(settings.environment)
    with upload_progress(client, advance):
        layers = [_published(client, layer, settings.runtime, settings.arch, notify)
                  for layer in settings.layers]
        if layer_zip is not None:
            layers.insert(0, publish_layer_if_new(client, packaging.RUNTIME_LAYER_NAME, layer_zip,
                                                  packaging.layer_runtimes(settings.python_dist),
                                                  settings.arch, notify))
            if settings.runtime.startswith("python"):
                environment.setdefault("AWS_LAMBDA_EXEC_WRAPPER", packaging.EXEC_WRAPPER)
        role = settings.role
        if role is None and settings.create_role:
            iam = session.client("iam", endpoint_url=settings.endpoint_url)
            role = ensure_role(iam, settings.name, notify)
        if role is None and settings.endpoint_url is not None:
            role = LOCAL_ROLE
        spec = FunctionSpec(name=settings.name, zip_bytes=zip_bytes, handler=settings.handler,
                            runtime=settings.runtime, role=role, architecture=settings.arch,
                            memory=settings.memory, timeout=settings.timeout, environment=environment,
                            layers=tuple(layers), description=settings.description)
        return Deployer(client, notify).deploy(spec).arn


def _published(client: Any, layer: str, runtime: str, arch: str, notify: Notify) -> str:
    """A layer version ARN as given, or the ARN of a directory published as a layer (once per content)."""
    if layer.startswith("arn:"):
        return layer
    directory = Path(layer)
    return publish_layer_if_new(client, packaging.layer_name_for(directory),
                                packaging.directory_layer_zip(directory), [runtime], arch, notify)
