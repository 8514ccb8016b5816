"""Create or update one function on any Lambda-compatible endpoint, uploading only what changed.

The order is fixed so that a failure always leaves a function that works:

1. check everything that can be checked without changing anything (role, layers, zip size);
2. publish the runtime layer version, unless a version with the same CodeSha256 exists;
3. create the function, or update its code when CodeSha256 (or the architecture) differs;
4. update its configuration when any declared field differs;
5. wait with botocore's waiters until ``State`` is ``Active`` and ``LastUpdateStatus`` ``Successful``.

When both code and configuration change, the previous code is downloaded first (GetFunction's
``Code.Location``, checked against its CodeSha256): if step 4 then fails, it is put back, so the
previous version keeps running. :class:`DeployError` always says which version is live.

Code goes up in the request (``ZipFile``, up to 50 MiB) or, when the deploy has a bucket, through S3
(``S3Bucket``/``S3Key``): a :data:`CodeUpload` turns a zip into the ``Code`` fields, and is called only
when the zip must actually go up.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError, WaiterError

from lamina.artifacts.limits import megabytes
from lamina.deploy.errors import DeployError

DEFAULT_MEMORY = 128  # Lambda's defaults: an option left out means this value, not "keep"
DEFAULT_TIMEOUT = 3
WAITER_CONFIG = {"Delay": 1, "MaxAttempts": 300}
ROLE_PROPAGATION_ATTEMPTS = 15  # about 30 s, longer than IAM usually takes to show Lambda a new role
ROLE_PROPAGATION_DELAY = 2.0
BASIC_EXECUTION_POLICY = "arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole"
TRUST_POLICY = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow",'
                '"Principal":{"Service":"lambda.amazonaws.com"},"Action":"sts:AssumeRole"}]}')

Notify = Callable[[str], None]
CodeUpload = Callable[[bytes], dict[str, str]]  # a zip -> Lambda's Code fields (ZipFile, or S3Bucket/S3Key)
# What AWSLambdaBasicExecutionRole allows, for endpoints that do not have AWS's managed policies (moto).
BASIC_EXECUTION_DOCUMENT = ('{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":['
                            '"logs:CreateLogGroup","logs:CreateLogStream","logs:PutLogEvents"],'
                            '"Resource":"*"}]}')


def direct_upload(zip_bytes: bytes) -> dict[str, str]:
    """The zip in the request itself (Lambda's limit: 50 MiB)."""
    return {"ZipFile": zip_bytes}  # type: ignore[dict-item]  # boto3 takes bytes here


@dataclass(frozen=True)
class FunctionSpec:
    """What the function should look like after the deploy (Lambda's defaults for what is left out)."""

    name: str
    zip_bytes: bytes
    handler: str
    runtime: str
    role: str | None = None
    architecture: str = "x86_64"
    memory: int = DEFAULT_MEMORY
    timeout: int = DEFAULT_TIMEOUT
    environment: dict[str, str] = field(default_factory=dict)
    layers: tuple[str, ...] = ()
    description: str | None = None
    upload: CodeUpload = direct_upload
    # a role that may still be on its way to Lambda (IAM is eventually consistent); False for a
    # placeholder that will never exist, so "cannot be assumed" is answered at once
    wait_for_role: bool = True

    @property
    def code_sha256(self) -> str:
        return code_sha256(self.zip_bytes)


@dataclass
class DeployOutcome:
    arn: str
    created: bool = False
    code_uploaded: bool = False
    configuration_updated: bool = False

    @property
    def changed(self) -> bool:
        return self.created or self.code_uploaded or self.configuration_updated


def code_sha256(zip_bytes: bytes) -> str:
    """Lambda's ``CodeSha256``: base64 of the zip's SHA-256 digest."""
    return base64.b64encode(hashlib.sha256(zip_bytes).digest()).decode()


def aws_error(exc: Exception) -> str:
    """One line for a boto3 failure: AWS's exception name and message."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return f"{error.get('Code', 'Error')}: {error.get('Message', '')}".rstrip(": ")
    return str(exc)


def publish_layer_if_new(client: Any, layer_name: str, zip_bytes: bytes, runtimes: list[str],
                         architecture: str, notify: Notify, upload: CodeUpload = direct_upload,
                         description: str = "lamina runtime") -> str:
    """The ARN of a layer version with exactly this zip: an existing one, else a newly published one."""
    wanted = code_sha256(zip_bytes)
    for version in _recent_layer_versions(client, layer_name):
        with contextlib.suppress(ClientError):
            found = client.get_layer_version(LayerName=layer_name, VersionNumber=version["Version"])
            if found.get("Content", {}).get("CodeSha256") == wanted:
                notify(f"layer {layer_name} unchanged (version {version['Version']})")
                return str(found["LayerVersionArn"])
    notify(f"publishing layer {layer_name} ({megabytes(len(zip_bytes))})")
    try:
        published = client.publish_layer_version(
            LayerName=layer_name, Content=upload(zip_bytes), CompatibleRuntimes=runtimes,
            CompatibleArchitectures=[architecture], Description=description)
    except (ClientError, BotoCoreError) as exc:
        raise DeployError(f"publishing layer {layer_name} failed ({aws_error(exc)}); "
                          "nothing was changed: the previous version is still running") from None
    return str(published["LayerVersionArn"])


def _recent_layer_versions(client: Any, layer_name: str, limit: int = 10) -> list[dict[str, Any]]:
    try:
        return list(client.list_layer_versions(LayerName=layer_name, MaxItems=limit)["LayerVersions"])
    except ClientError:
        return []  # some endpoints answer ResourceNotFoundException for a layer never published


def ensure_role(iam: Any, function_name: str, notify: Notify) -> str:
    """A role Lambda can assume, with AWSLambdaBasicExecutionRole (CloudWatch Logs) attached."""
    role_name = f"{function_name}-lamina-role"[:64]
    try:
        role = iam.create_role(RoleName=role_name, AssumeRolePolicyDocument=TRUST_POLICY,
                               Description=f"Execution role of {function_name}, created by lamina")["Role"]
        notify(f"created role {role_name}")
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "EntityAlreadyExists":
            raise DeployError(f"creating role {role_name} failed ({aws_error(exc)})") from None
        role = iam.get_role(RoleName=role_name)["Role"]
    try:
        iam.attach_role_policy(RoleName=role_name, PolicyArn=BASIC_EXECUTION_POLICY)
    except ClientError as exc:
        if exc.response.get("Error", {}).get("Code") != "NoSuchEntity":
            raise DeployError(f"attaching AWSLambdaBasicExecutionRole to {role_name} failed "
                              f"({aws_error(exc)})") from None
        # an endpoint without AWS's managed policies (moto by default): the same permissions, inline
        try:
            iam.put_role_policy(RoleName=role_name, PolicyName="lamina-basic-execution",
                                PolicyDocument=BASIC_EXECUTION_DOCUMENT)
        except ClientError as inline:
            raise DeployError(f"giving {role_name} CloudWatch Logs permissions failed "
                              f"({aws_error(inline)})") from None
    return str(role["Arn"])


class Deployer:
    """Deploys :class:`FunctionSpec`s with one boto3 Lambda client."""

    def __init__(self, client: Any, notify: Notify = lambda message: None) -> None:
        self.client = client
        self.notify = notify

    def deploy(self, spec: FunctionSpec) -> DeployOutcome:
        current = self._current(spec.name)
        if current is None:
            return self._create(spec)
        return self._update(spec, current)

    def _current(self, name: str) -> dict[str, Any] | None:
        try:
            return dict(self.client.get_function(FunctionName=name))
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "ResourceNotFoundException":
                return None
            raise DeployError(f"reading function {name} failed ({aws_error(exc)}); nothing was changed") \
                from None
        except BotoCoreError as exc:
            raise DeployError(f"cannot reach Lambda ({exc}); nothing was changed") from None

    def _create(self, spec: FunctionSpec) -> DeployOutcome:
        if not spec.role:
            raise DeployError(f"function {spec.name} does not exist yet and needs an execution role: "
                              "pass --role ARN or --create-role")
        self.notify(f"creating function {spec.name} ({megabytes(len(spec.zip_bytes))})")
        try:
            created = self._create_once_role_is_visible(spec, spec.upload(spec.zip_bytes))
            self._wait("function_active_v2", spec.name)
        except (ClientError, BotoCoreError) as exc:
            if _role_not_assumable(exc):
                raise DeployError(f"creating function {spec.name} failed: Lambda cannot assume the role "
                                  f"{spec.role} ({aws_error(exc)}): pass --role ARN of a role Lambda may "
                                  "assume, or --create-role") from None
            raise DeployError(f"creating function {spec.name} failed ({aws_error(exc)})") from None
        return DeployOutcome(str(created["FunctionArn"]), created=True)

    def _create_once_role_is_visible(self, spec: FunctionSpec, code: dict[str, str]) -> dict[str, Any]:
        """CreateFunction, retried while a role created moments ago has not reached Lambda yet (IAM is
        eventually consistent: Lambda says the role "cannot be assumed" for some seconds)."""
        attempts = ROLE_PROPAGATION_ATTEMPTS if spec.wait_for_role else 1
        for attempt in range(attempts):
            try:
                return dict(self.client.create_function(
                    FunctionName=spec.name, Role=spec.role, Code=code,
                    Architectures=[spec.architecture], PackageType="Zip", **self._configuration(spec)))
            except ClientError as exc:
                if not _role_not_assumable(exc) or attempt == attempts - 1:
                    raise
                if attempt == 0:
                    self.notify("waiting for the execution role to reach Lambda")
                time.sleep(ROLE_PROPAGATION_DELAY)
        raise AssertionError("unreachable")

    def _update(self, spec: FunctionSpec, current: dict[str, Any]) -> DeployOutcome:
        configuration = current["Configuration"]
        outcome = DeployOutcome(str(configuration["FunctionArn"]))
        previous = f"the previous version (CodeSha256 {configuration.get('CodeSha256')}) is still running"
        changes = self.configuration_changes(spec, configuration)
        if (configuration.get("CodeSha256") != spec.code_sha256
                or configuration.get("Architectures", ["x86_64"]) != [spec.architecture]):
            # keep the running code at hand while the configuration is not yet through
            previous_zip = _download_code(current) if changes else None
            self.notify(f"uploading code of {spec.name} ({megabytes(len(spec.zip_bytes))})")
            try:
                self.client.update_function_code(FunctionName=spec.name, Architectures=[spec.architecture],
                                                 **spec.upload(spec.zip_bytes))
                self._wait("function_updated_v2", spec.name)
            except (ClientError, BotoCoreError) as exc:
                raise DeployError(f"updating the code of {spec.name} failed ({aws_error(exc)}); "
                                  f"{previous}") from None
            outcome.code_uploaded = True
        if changes:
            self.notify(f"updating configuration of {spec.name}: {', '.join(sorted(changes))}")
            try:
                self.client.update_function_configuration(FunctionName=spec.name, **changes)
                self._wait("function_updated_v2", spec.name)
            except (ClientError, BotoCoreError) as exc:
                reason = f"updating the configuration of {spec.name} failed ({aws_error(exc)})"
                if outcome.code_uploaded:
                    rollback = self._roll_back_code(spec.name, current, previous_zip)
                    raise DeployError(f"{reason}; {rollback}") from None
                raise DeployError(f"{reason}; {previous}") from None
            outcome.configuration_updated = True
        if not outcome.changed:
            self.notify(f"function {spec.name} unchanged: nothing uploaded")
        return outcome

    def configuration_changes(self, spec: FunctionSpec, configuration: dict[str, Any]) -> dict[str, Any]:
        """The UpdateFunctionConfiguration fields whose deployed value differs from ``spec``."""
        desired = self._configuration(spec)
        if spec.role:
            desired["Role"] = spec.role
        current = {
            "Handler": configuration.get("Handler"),
            "Runtime": configuration.get("Runtime"),
            "Role": configuration.get("Role"),
            "MemorySize": configuration.get("MemorySize", DEFAULT_MEMORY),
            "Timeout": configuration.get("Timeout", DEFAULT_TIMEOUT),
            "Environment": {"Variables": (configuration.get("Environment") or {}).get("Variables") or {}},
            "Layers": [layer["Arn"] for layer in configuration.get("Layers") or []],
            "Description": configuration.get("Description") or "",
        }
        return {key: value for key, value in desired.items() if current.get(key) != value}

    @staticmethod
    def _configuration(spec: FunctionSpec) -> dict[str, Any]:
        fields: dict[str, Any] = {
            "Handler": spec.handler, "Runtime": spec.runtime, "MemorySize": spec.memory,
            "Timeout": spec.timeout, "Environment": {"Variables": dict(spec.environment)},
            "Layers": list(spec.layers),
        }
        if spec.description is not None:
            fields["Description"] = spec.description
        return fields

    def _wait(self, waiter: str, name: str) -> None:
        try:
            self.client.get_waiter(waiter).wait(FunctionName=name, WaiterConfig=WAITER_CONFIG)
        except WaiterError as exc:
            last: dict[str, Any] = dict(exc.last_response or {})
            reason = last.get("Configuration", {}).get("LastUpdateStatusReason") or exc
            raise DeployError(f"function {name} did not become ready ({reason}); Lambda keeps running "
                              "the previous version until an update succeeds") from None

    def _roll_back_code(self, name: str, previous: dict[str, Any], old_zip: bytes | None) -> str:
        """Put the previous code back; say which version runs now."""
        wanted = previous["Configuration"].get("CodeSha256")
        try:
            if old_zip is None:
                raise ValueError("the previous code could not be downloaded before the update")
            self.client.update_function_code(FunctionName=name, ZipFile=old_zip,
                                             Architectures=previous["Configuration"].get("Architectures"))
            self._wait("function_updated_v2", name)
        except Exception as exc:  # any failure here leaves the new code: say so rather than raise
            return (f"rolling back the code failed too ({aws_error(exc)}): the function runs the NEW code "
                    "with its PREVIOUS configuration")
        return f"the code was rolled back: the previous version (CodeSha256 {wanted}) is still running"


def _role_not_assumable(exc: Exception) -> bool:
    """Lambda's answer for a role it cannot use (yet, or ever)."""
    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    return error.get("Code") == "InvalidParameterValueException" and "cannot be assumed" in error.get(
        "Message", "")


def _download_code(function: dict[str, Any]) -> bytes | None:
    """The deployed zip (GetFunction's ``Code.Location``), or None when it cannot be had intact."""
    location = function.get("Code", {}).get("Location")
    if not location or not str(location).startswith(("https://", "http://")):
        return None
    try:
        with urllib.request.urlopen(location, timeout=120) as response:
            data = response.read()
    except (OSError, ValueError):
        return None
    return data if code_sha256(data) == function["Configuration"].get("CodeSha256") else None
