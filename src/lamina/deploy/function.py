"""``lamina deploy`` once the function's zip is built: publish the layers, make sure the function has a
bootstrap and a role, create or update the function (:class:`~lamina.deploy.deployer.Deployer`) and
return its ARN.
"""

from __future__ import annotations

import io
import urllib.request
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lamina.artifacts.limits import ZIPPED_LIMIT, megabytes
from lamina.deploy import packaging
from lamina.deploy.deployer import (
    CodeUpload,
    Deployer,
    FunctionSpec,
    Notify,
    aws_error,
    direct_upload,
    ensure_role,
    publish_layer_if_new,
)
from lamina.deploy.errors import DeployError
from lamina.deploy.s3 import S3Uploads
from lamina.deploy.session import lambda_session
from lamina.deploy.settings import Settings
from lamina.deploy.upload import Advance, upload_progress
from lamina.local.model.names import DEFAULT_ACCOUNT

__all__ = ["LOCAL_ROLE", "deploy_function"]

LOCAL_ROLE = f"arn:aws:iam::{DEFAULT_ACCOUNT}:role/lamina-local"  # a Lambda-compatible endpoint needs one


def deploy_function(settings: Settings, zip_bytes: bytes, notify: Notify, advance: Advance,
                    runtime_layer: Callable[[], bytes]) -> str:
    """Publish layers, make sure of the bootstrap and the role, create or update the function; return
    its ARN.

    ``runtime_layer`` builds lamina's runtime layer, called only when the function uses it. Progress goes
    to ``notify``, the bytes of each large upload to ``advance``; any failure is a :class:`DeployError`.
    """
    try:
        return _deploy(settings, zip_bytes, notify, advance, runtime_layer)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(aws_error(exc)) from None


def _deploy(settings: Settings, zip_bytes: bytes, notify: Notify, advance: Advance,
            runtime_layer: Callable[[], bytes]) -> str:
    session = lambda_session(settings.profile, settings.region, settings.endpoint_url)
    client = session.client("lambda", endpoint_url=settings.endpoint_url,
                            config=Config(retries={"mode": "standard", "max_attempts": 3}, read_timeout=300))
    uploads = None
    if settings.s3_bucket:
        uploads = S3Uploads(session.client("s3", endpoint_url=settings.endpoint_url), settings.s3_bucket,
                            notify, advance)
        uploads.check_bucket()
    elif len(zip_bytes) > ZIPPED_LIMIT:
        raise DeployError(f"the zip of {settings.name} is {megabytes(len(zip_bytes))}, over Lambda's "
                          f"{megabytes(ZIPPED_LIMIT)} limit for direct upload: pass --s3-bucket BUCKET to "
                          "upload it through S3, or move dependencies to a layer (lamina layer build "
                          "--requirements FILE); nothing was changed")

    def upload_for(name: str) -> CodeUpload:
        return uploads.for_name(name) if uploads is not None else direct_upload

    environment = dict(settings.environment)
    with upload_progress(client, advance):
        use_layer = uses_runtime_layer(settings, zip_bytes, client)
        layers = [_published(client, layer, settings.runtime, settings.arch, notify, upload_for)
                  for layer in settings.layers]
        if use_layer:
            name = packaging.RUNTIME_LAYER_NAME
            layers.insert(0, publish_layer_if_new(client, name, runtime_layer(),
                                                  packaging.layer_runtimes(settings.python_dist),
                                                  settings.arch, notify, upload_for(name)))
            if settings.runtime.startswith("python"):
                environment.setdefault("AWS_LAMBDA_EXEC_WRAPPER", packaging.EXEC_WRAPPER)
        role = settings.role
        if role is None and settings.create_role:
            iam = session.client("iam", endpoint_url=settings.endpoint_url)
            role = ensure_role(iam, settings.name, notify)
        placeholder = role is None and settings.endpoint_url is not None
        if placeholder:
            role = LOCAL_ROLE
        spec = FunctionSpec(name=settings.name, zip_bytes=zip_bytes, handler=settings.handler,
                            runtime=settings.runtime, role=role, architecture=settings.arch,
                            memory=settings.memory, timeout=settings.timeout, environment=environment,
                            layers=tuple(layers), description=settings.description,
                            upload=upload_for(settings.name), wait_for_role=not placeholder)
        return Deployer(client, notify).deploy(spec).arn


def uses_runtime_layer(settings: Settings, zip_bytes: bytes, client: Any) -> bool:
    """Whether lamina's runtime layer goes in front of the function's layers.

    ``--with-layer``/``--no-layer`` decide; otherwise a ``provided.*`` function gets it when neither its
    zip nor any of its layers has a ``bootstrap``. A ``provided.*`` function left with no bootstrap at
    all would fail every invocation (exit 127), so that is refused here.
    """
    if settings.with_layer:
        return True
    if not settings.runtime.startswith("provided") or packaging.zip_has_bootstrap(zip_bytes):
        return False
    found = [packaging.local_layer_has_bootstrap(layer) if not layer.startswith("arn:")
             else layer_arn_has_bootstrap(client, layer) for layer in settings.layers]
    if any(has is not False for has in found):  # a bootstrap, or a layer that could not be looked into
        return False
    if settings.with_layer is None:
        return True
    layers = f"its layers ({', '.join(settings.layers)}) have none" if settings.layers else "it has no layers"
    raise DeployError(f"{settings.name} runs on {settings.runtime}, which starts a bootstrap, and none would "
                      f"be there: its zip has none and {layers}, so every invocation would fail (exit 127): "
                      "drop --no-layer to add lamina's runtime layer, add an executable bootstrap to the "
                      "code, or deploy with --runtime python3.12; nothing was changed")


def layer_arn_has_bootstrap(client: Any, arn: str) -> bool | None:
    """Whether a published layer version has a ``bootstrap`` at its root; None when it cannot be read."""
    try:
        location = client.get_layer_version_by_arn(Arn=arn).get("Content", {}).get("Location")
    except (ClientError, BotoCoreError):
        return None
    if not location or not str(location).startswith(("https://", "http://")):
        return None
    try:
        with urllib.request.urlopen(location, timeout=120) as response:
            data = response.read()
        with zipfile.ZipFile(io.BytesIO(data)) as layer:
            return "bootstrap" in layer.namelist()
    except (OSError, ValueError, zipfile.BadZipFile):
        return None


def _published(client: Any, layer: str, runtime: str, arch: str, notify: Notify,
               upload_for: Callable[[str], CodeUpload]) -> str:
    """A layer version ARN as given, or the ARN of a directory or zip published as a layer (once per
    content)."""
    if layer.startswith("arn:"):
        return layer
    name = packaging.layer_name_for(Path(layer))
    return publish_layer_if_new(client, name, packaging.local_layer_zip(layer), [runtime], arch, notify,
                                upload_for(name), description=f"{name}, published by lamina")
