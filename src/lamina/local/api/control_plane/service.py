"""The control plane's operations, free of HTTP: validate a request, change the store, shape the reply.

Each public method is one Lambda API operation and takes the decoded JSON request (and the path or
query parameters) and returns the response body AWS would send. Errors are :class:`ServiceError` with
AWS's name and message. The route layer only moves bytes, so these are testable without a server.

Versions are immutable snapshots of ``$LATEST`` (code, layers and configuration), numbered per function
and never renumbered; aliases point at one version, optionally weighted towards a second. Nothing here
runs asynchronously, so a function is ready when its reply leaves: the reply shows the transition AWS
reports (``Pending``, ``InProgress``) and every later read the state it reaches (``Active``,
``Successful``), so botocore's waiters pass on their first poll.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import hashlib
import json
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any, Optional

from lamina.local.api.control_plane.store import (
    ALIAS,
    CONCURRENCY,
    EVENT_INVOKE,
    POLICY,
    URL,
    Code,
    FunctionRecord,
    FunctionStore,
    LayerVersionRecord,
)
from lamina.local.invoke.event_policy import EventInvokeConfig, InvalidEventInvokeConfigError
from lamina.local.model import names as arns
from lamina.local.model import service_errors as errors
from lamina.runtime import protocol

LATEST = arns.LATEST
LATEST_PUBLISHED = arns.LATEST_PUBLISHED
# botocore's Runtime enum, in its order: what AWS's message lists.
RUNTIME_ENUM = (
    "nodejs", "nodejs4.3", "nodejs6.10", "nodejs8.10", "nodejs10.x", "nodejs12.x", "nodejs14.x", "nodejs16.x",
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8", "java8.al2", "java11", "java17",
    "java21", "java25", "python2.7", "python3.6", "python3.7", "python3.8", "python3.9", "python3.10",
    "python3.11", "python3.12", "python3.13", "python3.14", "dotnetcore1.0", "dotnetcore2.0",
    "dotnetcore2.1", "dotnetcore3.1", "dotnet6", "dotnet8", "dotnet10", "nodejs4.3-edge", "go1.x",
    "ruby2.5", "ruby2.7", "ruby3.2", "ruby3.3", "ruby3.4", "ruby4.0", "provided", "provided.al2",
    "provided.al2023", "nodejs26.x", "python3.15", "java8.al2023", "java11.al2023", "java17.al2023",
    "custom",
)
# Runtimes Lambda no longer lets a function be created or updated with, and what it recommends instead.
DEPRECATED_RUNTIMES = {
    "nodejs": "nodejs22.x", "nodejs4.3": "nodejs22.x", "nodejs6.10": "nodejs22.x", "nodejs8.10": "nodejs22.x",
    "nodejs10.x": "nodejs22.x", "nodejs12.x": "nodejs22.x", "nodejs14.x": "nodejs22.x",
    "nodejs16.x": "nodejs22.x", "nodejs4.3-edge": "nodejs22.x", "java8": "java21", "python2.7": "python3.13",
    "python3.6": "python3.13", "python3.7": "python3.13", "dotnetcore1.0": "dotnet8",
    "dotnetcore2.0": "dotnet8",
    "dotnetcore2.1": "dotnet8", "dotnetcore3.1": "dotnet8", "go1.x": "provided.al2023", "ruby2.5": "ruby3.3",
    "ruby2.7": "ruby3.3",
}
RUNTIMES = frozenset(RUNTIME_ENUM) - frozenset(DEPRECATED_RUNTIMES)
ROLE_PATTERN = r"arn:(aws[a-zA-Z-]*)?:iam::\d{12}:role/?[a-zA-Z_0-9+=,.@\-_/]+"
ENV_KEY_PATTERN = r"[a-zA-Z]([a-zA-Z0-9_])+"
RESERVED_ENV_KEYS = frozenset([
    "_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
    "AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
    "AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
    "AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
    "AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
])
ARCHITECTURES = ("x86_64", "arm64")
INVOKE_MODES = ("BUFFERED", "RESPONSE_STREAM")
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL")
MAX_LIST_ITEMS = 50
ACCOUNT_CONCURRENCY = 1000  # Lambda's default account quota
MIN_UNRESERVED = 100  # concurrency Lambda keeps for functions without a reservation
TOTAL_CODE_SIZE = 80530636800  # 75 GB, the account's code storage quota
TAGGABLE_RESOURCE_PATTERN = (
    r"arn:(aws[a-zA-Z-]*):lambda:(eusc-)?[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:"
    r"(function:[a-zA-Z0-9-_]+(:(\$LATEST|[a-zA-Z0-9-_]+))?|code-signing-config:csc-[a-z0-9]{17}|"
    r"event-source-mapping:[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}|"
    r"(capacity-provider|network-connector):[a-zA-Z0-9-_]{1,64})")
# Fields ListFunctions leaves out ("use GetFunction for these"), as Lambda documents.
NOT_LISTED = ("State", "StateReason", "StateReasonCode", "LastUpdateStatus", "LastUpdateStatusReason",
              "LastUpdateStatusReasonCode", "RuntimeVersionConfig")
# What a version is compared on to decide that nothing changed since the last one was published.
_NOT_PUBLISHED = ("Version", "FunctionArn", "LastModified", "RevisionId", "Description", *NOT_LISTED)

OnChange = Callable[[str], None]
# Fetches S3 code: (bucket, key, object version) -> the zip bytes, or AWS's error.
CodeSource = Callable[[str, str, Optional[str]], bytes]
# The function URL of an url id in a region.
UrlBuilder = Callable[[str, str], str]


def aws_function_url(url_id: str, region: str) -> str:
    return f"https://{url_id}.lambda-url.{region}.on.aws/"


def no_s3(bucket: str, key: str, version: Optional[str]) -> bytes:
    """Without an S3 endpoint no bucket exists: GetObject's error as Lambda reports it."""
    raise errors.invalid_parameter("Error occurred while GetObject. S3 Error Code: NoSuchBucket. "
                                   "S3 Error Message: The specified bucket does not exist")


class ControlPlane:
    """Lambda's function and layer operations over a :class:`FunctionStore`.

    ``on_change(name)`` is called after a function, one of its versions or aliases, or a setting the
    invocation service reads is created, updated or deleted, so the local Lambda can drop warm
    execution environments that run the old code or configuration. ``code_source`` fetches code given
    as S3 objects; ``function_url`` names the URL of a function URL config.
    """

    def __init__(self, store: FunctionStore, on_change: OnChange | None = None,
                 code_source: CodeSource = no_s3, account: str = arns.DEFAULT_ACCOUNT,
                 function_url: UrlBuilder = aws_function_url) -> None:
        self.store = store
        self.on_change = on_change or (lambda name: None)
        self.code_source = code_source
        self.account = account
        self.function_url = function_url

    # --- functions --------------------------------------------------------------------------

    def create_function(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        reference = arns.parse_function_reference(str(_required(body, "FunctionName")))
        if reference.qualifier:
            raise errors.invalid_parameter("Qualifier is not supported when creating a function.")
        arns.check_reachable(reference, region, self.account, "CreateFunction")
        name = reference.name
        _required(body, "Role")
        if body.get("PackageType", "Zip") != "Zip":
            raise errors.invalid_parameter("lamina's local Lambda runs .zip deployment packages only "
                                           "(PackageType Zip)")
        if not body.get("Runtime") or not body.get("Handler"):
            raise errors.invalid_parameter("Runtime and Handler are mandatory parameters for functions "
                                           "created with deployment packages.")
        code_spec = _required(body, "Code")
        if not isinstance(code_spec, dict):
            raise errors.validation(code_spec, "code", "Member must be a structure")
        configuration = _new_configuration(name, region, self.account)
        if body.get("Architectures") is not None:
            configuration["Architectures"] = _architectures(body["Architectures"])
        zip_bytes = self._zip_from(code_spec, "CreateFunction")
        with self.store.lock, self._freeing_code_on_error():
            if self.store.get_function(name) is not None:
                raise errors.function_exists(name)
            layer_codes = self._apply_configuration(configuration, body)
            code = self.store.put_code(zip_bytes)
            _check_combined_size(code, layer_codes)
            _set_code(configuration, code)
            record = FunctionRecord(configuration, _tags(body.get("Tags") or {}), code, layer_codes)
            self.store.insert_function(record)
            published = self._publish(record, body) if body.get("Publish") else None
        self.on_change(name)
        reply = {k: v for k, v in (published or configuration).items() if k != "LastUpdateStatus"}
        return {**reply, "State": "Pending", "StateReason": "The function is being created.",
                "StateReasonCode": "Creating"}

    def update_function_code(self, function_name: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        zip_bytes = self._zip_from(body, "UpdateFunctionCode")
        # read, check the revision and write as one step against concurrent updates
        with self.store.lock, self._freeing_code_on_error():
            record = self._latest(function_name, region, "UpdateFunctionCode", namespaced=False)
            _check_revision(record, body)
            configuration = dict(record.configuration)
            if body.get("Architectures") is not None:
                configuration["Architectures"] = _architectures(body["Architectures"])
            code = self.store.put_code(zip_bytes)
            _check_combined_size(code, record.layers)
            _set_code(configuration, code)
            if body.get("DryRun"):
                self.store.collect_garbage()
                return configuration
            updated = FunctionRecord(configuration, record.tags, code, record.layers)
            self.store.replace_function(updated)
            published = self._publish(updated, body) if body.get("Publish") else None
            self.store.collect_garbage()
        self.on_change(record.name)
        return published or _in_progress(configuration)

    def update_function_configuration(self, function_name: str, body: dict[str, Any],
                                      region: str) -> dict[str, Any]:
        with self.store.lock:
            record = self._latest(function_name, region, "UpdateFunctionConfiguration", namespaced=False)
            _check_revision(record, body)
            configuration = dict(record.configuration)
            layer_codes = self._apply_configuration(configuration, body, previous=record.layers)
            _check_combined_size(record.code, layer_codes)
            _touch(configuration)
            self.store.replace_function(FunctionRecord(configuration, record.tags, record.code, layer_codes))
            self.store.collect_garbage()
        self.on_change(record.name)
        return _in_progress(configuration)

    def get_function(self, function_name: str, qualifier: str | None, code_url: str,
                     region: str) -> dict[str, Any]:
        record, configuration = self._qualified(function_name, qualifier, region, "GetFunction")
        response: dict[str, Any] = {
            "Configuration": configuration,
            "Code": {"RepositoryType": "S3", "Location": f"{code_url}/{record.code.sha256_hex}.zip"},
        }
        latest = self.store.get_function(record.name)
        if latest is not None and latest.tags:
            response["Tags"] = latest.tags
        concurrency = self.store.get_resource(record.name, CONCURRENCY, "")
        if concurrency is not None:
            response["Concurrency"] = concurrency
        return response

    def get_function_configuration(self, function_name: str, qualifier: str | None,
                                   region: str) -> dict[str, Any]:
        return self._qualified(function_name, qualifier, region, "GetFunctionConfiguration")[1]

    def list_functions(self, marker: str | None, max_items: str | None,
                       function_version: str | None = None) -> dict[str, Any]:
        if function_version is not None and function_version != "ALL":
            raise errors.validation(function_version, "functionVersion",
                                    "Member must satisfy enum value set: [ALL]")
        configurations: list[dict[str, Any]] = []
        for record in self.store.list_functions():
            configurations.append(_listed(record.configuration))
            if function_version == "ALL":
                configurations.extend(_listed(version.configuration)
                                      for version in self.store.list_versions(record.name))
        return _listing("Functions", configurations, marker, max_items)

    def delete_function(self, function_name: str, qualifier: str | None, region: str) -> None:
        reference = arns.parse_function_reference(function_name, namespaced=True)
        qualifier = arns.resolve_qualifier(reference, qualifier)
        arns.check_reachable(reference, region, self.account, "DeleteFunction")
        if qualifier == LATEST:
            raise errors.invalid_parameter("$LATEST version cannot be deleted without deleting the function.")
        with self.store.lock:
            record = self._record(reference.name, region)
            if qualifier is None:
                self.store.delete_function(record.name)
            else:
                if self.store.get_version(record.name, qualifier) is None:
                    raise errors.function_not_found(f"{self._arn(region, record.name)}:{qualifier}")
                users = sorted(alias for _, alias, config in self.store.list_resources(ALIAS, record.name)
                               if qualifier in (config["FunctionVersion"], *_weights(config)))
                if users:
                    raise errors.conflict("Unable to delete version because the following aliases reference "
                                          f"it: [{', '.join(users)}]")
                self.store.delete_version(record.name, qualifier)
        self.on_change(record.name)

    def function(self, name: str) -> FunctionRecord | None:
        """The stored function called ``name`` (for the local Lambda's registry)."""
        return self.store.get_function(name)

    # --- versions ---------------------------------------------------------------------------

    def publish_version(self, function_name: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        publish_to = body.get("PublishTo")
        if publish_to is not None and publish_to != "LATEST_PUBLISHED":
            raise errors.validation(publish_to, "publishTo", "Member must satisfy enum value set: "
                                    "[LATEST_PUBLISHED]")
        with self.store.lock:
            record = self._latest(function_name, region, "PublishVersion", namespaced=False)
            _check_revision(record, body)
            sha = body.get("CodeSha256")
            if sha and sha != record.configuration["CodeSha256"]:
                raise errors.invalid_parameter(
                    f"CodeSHA256 ({sha}) is different from current CodeSHA256 in $LATEST "
                    f"({record.configuration['CodeSha256']}). Please try again with the CodeSHA256 in "
                    "$LATEST.")
            published = self._publish(record, body)
        self.on_change(record.name)
        return {**published, "State": "Pending", "StateReason": "The function is being created.",
                "StateReasonCode": "Creating"}

    def _publish(self, record: FunctionRecord, body: dict[str, Any]) -> dict[str, Any]:
        """Snapshot ``$LATEST`` as a version; an unchanged one answers the last version instead."""
        to_latest_published = body.get("PublishTo") == "LATEST_PUBLISHED"
        if not to_latest_published:
            numbered = [v for v in self.store.list_versions(record.name) if str(v.configuration["Version"])
                        .isdigit()]
            last = numbered[-1].configuration if numbered else None
            if last is not None and _published_view(last) == _published_view(record.configuration):
                return last
        description = body.get("Description")

        def build(version: str) -> FunctionRecord:
            configuration = dict(record.configuration)
            configuration["Version"] = version
            configuration["FunctionArn"] = f"{record.configuration['FunctionArn']}:{version}"
            configuration["RevisionId"] = str(uuid.uuid4())
            if description is not None:
                configuration["Description"] = str(description)
            snap_start = configuration.get("SnapStart") or {}
            if snap_start.get("ApplyOn") == "PublishedVersions":
                configuration["SnapStart"] = {"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"}
            return FunctionRecord(configuration, {}, record.code, record.layers)

        version = LATEST_PUBLISHED if to_latest_published else None
        return self.store.add_version(record.name, build, version).configuration

    def list_versions_by_function(self, function_name: str, marker: str | None, max_items: str | None,
                                  region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "ListVersionsByFunction")
        versions = [record.configuration, *(v.configuration for v in self.store.list_versions(record.name))]
        return _listing("Versions", [_listed(version) for version in versions], marker, max_items)

    # --- aliases ----------------------------------------------------------------------------

    def create_alias(self, function_name: str, body: dict[str, Any], region: str) -> dict[str, Any]:
        alias = _alias_name(_required(body, "Name"))
        version = str(_required(body, "FunctionVersion"))
        with self.store.lock:
            record = self._latest(function_name, region, "CreateAlias", namespaced=False)
            arn = f"{self._arn(region, record.name)}:{alias}"
            if self.store.get_resource(record.name, ALIAS, alias) is not None:
                raise errors.conflict(f"Alias already exists: {arn}")
            config: dict[str, Any] = {"AliasArn": arn, "Name": alias,
                                      "FunctionVersion": self._version_of(record, version, region),
                                      "Description": str(body.get("Description") or ""),
                                      "RevisionId": str(uuid.uuid4())}
            if body.get("RoutingConfig") is not None:
                config["RoutingConfig"] = self._routing(record, body["RoutingConfig"], config, region)
            self.store.put_resource(record.name, ALIAS, alias, config)
        self.on_change(record.name)
        return config

    def get_alias(self, function_name: str, alias: str, region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "GetAlias", namespaced=False)
        return self._alias(record, alias, region)

    def update_alias(self, function_name: str, alias: str, body: dict[str, Any],
                     region: str) -> dict[str, Any]:
        with self.store.lock:
            record = self._latest(function_name, region, "UpdateAlias", namespaced=False)
            config = dict(self._alias(record, alias, region))
            if body.get("RevisionId") and body["RevisionId"] != config["RevisionId"]:
                raise errors.revision_mismatch()
            if body.get("FunctionVersion") is not None:
                config["FunctionVersion"] = self._version_of(record, str(body["FunctionVersion"]), region)
            if body.get("Description") is not None:
                config["Description"] = str(body["Description"])
            if body.get("RoutingConfig") is not None:
                config["RoutingConfig"] = self._routing(record, body["RoutingConfig"], config, region)
            config["RevisionId"] = str(uuid.uuid4())
            self.store.put_resource(record.name, ALIAS, alias, config)
        self.on_change(record.name)
        return config

    def delete_alias(self, function_name: str, alias: str, region: str) -> None:
        record = self._latest(function_name, region, "DeleteAlias", namespaced=False)
        self.store.delete_resource(record.name, ALIAS, alias)  # idempotent, as in Lambda
        self.store.delete_resource(record.name, URL, alias)
        self.on_change(record.name)

    def list_aliases(self, function_name: str, function_version: str | None, marker: str | None,
                     max_items: str | None, region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "ListAliases", namespaced=False)
        aliases = [config for _, _, config in self.store.list_resources(ALIAS, record.name)
                   if function_version is None or config["FunctionVersion"] == function_version]
        return _listing("Aliases", aliases, marker, max_items)

    def _alias(self, record: FunctionRecord, alias: str, region: str) -> dict[str, Any]:
        config = self.store.get_resource(record.name, ALIAS, alias)
        if config is None:
            arn = f"{self._arn(region, record.name)}:{alias}"
            raise errors.resource_not_found(f"Cannot find alias arn: {arn}")
        return config

    def _version_of(self, record: FunctionRecord, version: str, region: str) -> str:
        if not re.fullmatch(r"\$LATEST(\.PUBLISHED)?|[0-9]+", version) or len(version) > 1024:
            raise errors.validation(version, "functionVersion", "Member must satisfy regular expression "
                                    r"pattern: (\$LATEST(\.PUBLISHED)?|[0-9]+)")
        if version != LATEST and self.store.get_version(record.name, version) is None:
            raise errors.function_not_found(f"{self._arn(region, record.name)}:{version}")
        return version

    def _routing(self, record: FunctionRecord, routing: Any, alias: dict[str, Any],
                 region: str) -> dict[str, Any]:
        weights = (routing or {}).get("AdditionalVersionWeights") or {}
        if not isinstance(weights, dict):
            raise errors.validation(weights, "routingConfig.additionalVersionWeights", "Member must be a map")
        if len(weights) > 1:
            raise errors.invalid_parameter("Number of items in AdditionalVersionWeights cannot be greater "
                                           "than 1")
        checked: dict[str, float] = {}
        for version, weight in weights.items():
            if isinstance(weight, bool) or not isinstance(weight, (int, float)) or not 0.0 <= weight <= 1.0:
                raise errors.validation(weight, f"routingConfig.additionalVersionWeights.{version}.member",
                                        "Member must have value less than or equal to 1.0 and greater than "
                                        "or equal to 0.0")
            if alias["FunctionVersion"] == LATEST:
                raise errors.invalid_parameter("$LATEST is not supported for an alias pointing to more than "
                                               "1 version")
            if version == alias["FunctionVersion"]:
                raise errors.invalid_parameter(f"Invalid function version {version}. Function version "
                                               f"{version} is already included in routing configuration.")
            checked[str(version)] = float(weight)
            self._version_of(record, str(version), region)
        return {"AdditionalVersionWeights": checked} if checked else {}

    # --- permissions, tags, concurrency --------------------------------------------------------

    def add_permission(self, function_name: str, qualifier: str | None, body: dict[str, Any],
                       region: str) -> dict[str, Any]:
        sid = _matching(_required(body, "StatementId"), r"([a-zA-Z0-9-_]+)", "statementId")
        action = _matching(_required(body, "Action"), r"(lambda:[*]|lambda:[a-zA-Z]+|[*])", "action")
        principal = _matching(_required(body, "Principal"), r"[^\s]+", "principal")
        with self.store.lock:
            record, key, resource = self._policy_target(function_name, qualifier, region, "AddPermission")
            policy = self.store.get_resource(record.name, POLICY, key) or {"Statement": []}
            if body.get("RevisionId") and body["RevisionId"] != policy.get("RevisionId"):
                raise errors.revision_mismatch()
            if any(statement["Sid"] == sid for statement in policy["Statement"]):
                raise errors.conflict(f"The statement id ({sid}) provided already exists. Please provide a "
                                      "new statement id, or remove the existing statement.")
            statement = _statement(sid, action, principal, resource, body)
            policy = {"Statement": [*policy["Statement"], statement], "RevisionId": str(uuid.uuid4())}
            self.store.put_resource(record.name, POLICY, key, policy)
        return {"Statement": json.dumps(statement, separators=(",", ":"))}

    def get_policy(self, function_name: str, qualifier: str | None, region: str) -> dict[str, Any]:
        record, key, _ = self._policy_target(function_name, qualifier, region, "GetPolicy")
        policy = self.store.get_resource(record.name, POLICY, key)
        if not policy or not policy["Statement"]:
            raise errors.resource_not_found()
        document = {"Version": "2012-10-17", "Id": "default", "Statement": policy["Statement"]}
        return {"Policy": json.dumps(document, separators=(",", ":")), "RevisionId": policy["RevisionId"]}

    def remove_permission(self, function_name: str, statement_id: str, qualifier: str | None,
                          revision_id: str | None, region: str) -> None:
        with self.store.lock:
            record, key, _ = self._policy_target(function_name, qualifier, region, "RemovePermission")
            policy = self.store.get_resource(record.name, POLICY, key) or {"Statement": []}
            if revision_id and revision_id != policy.get("RevisionId"):
                raise errors.revision_mismatch()
            remaining = [s for s in policy["Statement"] if s["Sid"] != statement_id]
            if len(remaining) == len(policy["Statement"]):
                raise errors.resource_not_found(f"Statement {statement_id} is not found in resource policy.")
            if remaining:
                self.store.put_resource(record.name, POLICY, key,
                                        {"Statement": remaining, "RevisionId": str(uuid.uuid4())})
            else:
                self.store.delete_resource(record.name, POLICY, key)

    def _policy_target(self, function_name: str, qualifier: str | None, region: str,
                       action: str) -> tuple[FunctionRecord, str, str]:
        """The function, the policy's key (its qualifier) and the ARN its statements name."""
        record, _ = self._qualified(function_name, qualifier, region, action)
        reference = arns.parse_function_reference(function_name, namespaced=True)
        key = arns.resolve_qualifier(reference, qualifier) or ""
        resource = self._arn(region, record.name) + (f":{key}" if key else "")
        return record, key, resource

    def tag_resource(self, resource: str, body: dict[str, Any], region: str) -> None:
        tags = _tags(_required(body, "Tags"))
        with self.store.lock:
            record = self._tagged(resource, region, "TagResource")
            self.store.replace_function(FunctionRecord(record.configuration, {**record.tags, **tags},
                                                       record.code, record.layers))

    def untag_resource(self, resource: str, tag_keys: list[str], region: str) -> None:
        if not tag_keys:
            raise errors.validation(None, "tagKeys", "Member must not be null")
        with self.store.lock:
            record = self._tagged(resource, region, "UntagResource")
            tags = {key: value for key, value in record.tags.items() if key not in tag_keys}
            self.store.replace_function(FunctionRecord(record.configuration, tags, record.code,
                                                       record.layers))

    def list_tags(self, resource: str, region: str) -> dict[str, Any]:
        return {"Tags": self._tagged(resource, region, "ListTags").tags}

    def _tagged(self, resource: str, region: str, action: str) -> FunctionRecord:
        if not re.fullmatch(TAGGABLE_RESOURCE_PATTERN, resource, re.ASCII):
            raise errors.validation(resource, "resource", "Member must satisfy regular expression pattern: "
                                    f"{TAGGABLE_RESOURCE_PATTERN}")
        if ":function:" not in resource:
            raise errors.resource_not_found()
        reference = arns.parse_function_reference(resource)
        arns.check_reachable(reference, region, self.account, action)
        return self._record(reference.name, region)

    def put_function_concurrency(self, function_name: str, body: dict[str, Any],
                                 region: str) -> dict[str, Any]:
        reserved = body.get("ReservedConcurrentExecutions")
        if reserved is None:
            raise errors.validation(None, "reservedConcurrentExecutions", "Member must not be null")
        reserved = _bounded(reserved, "reservedConcurrentExecutions", 0, ACCOUNT_CONCURRENCY)
        with self.store.lock:
            record = self._latest(function_name, region, "PutFunctionConcurrency", namespaced=False)
            others = sum(config["ReservedConcurrentExecutions"] for name, _, config
                         in self.store.list_resources(CONCURRENCY) if name != record.name)
            if ACCOUNT_CONCURRENCY - others - reserved < MIN_UNRESERVED:
                raise errors.invalid_parameter(
                    "Specified ReservedConcurrentExecutions for function decreases account's "
                    f"UnreservedConcurrentExecution below its minimum value of [{MIN_UNRESERVED}].")
            concurrency = {"ReservedConcurrentExecutions": reserved}
            self.store.put_resource(record.name, CONCURRENCY, "", concurrency)
        self.on_change(record.name)
        return concurrency

    def get_function_concurrency(self, function_name: str, region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "GetFunctionConcurrency", namespaced=False)
        return self.store.get_resource(record.name, CONCURRENCY, "") or {}

    def delete_function_concurrency(self, function_name: str, region: str) -> None:
        record = self._latest(function_name, region, "DeleteFunctionConcurrency", namespaced=False)
        self.store.delete_resource(record.name, CONCURRENCY, "")
        self.on_change(record.name)

    def reserved_concurrency(self, name: str) -> int | None:
        """The function's reserved concurrency, for the invocation service."""
        concurrency = self.store.get_resource(name, CONCURRENCY, "")
        return None if concurrency is None else int(concurrency["ReservedConcurrentExecutions"])

    # --- function URLs ----------------------------------------------------------------------

    def create_function_url_config(self, function_name: str, qualifier: str | None, body: dict[str, Any],
                                   region: str) -> dict[str, Any]:
        auth_type = _enum(_required(body, "AuthType"), "authType", ("NONE", "AWS_IAM"))
        invoke_mode = _enum(body.get("InvokeMode") or "BUFFERED", "invokeMode", INVOKE_MODES)
        with self.store.lock:
            record, key, arn = self._url_target(function_name, qualifier, region)
            if self.store.get_resource(record.name, URL, key) is not None:
                raise errors.conflict(f"Failed to create function url config for [functionArn = {arn}]. "
                                      "Error message:  FunctionUrlConfig exists for this Lambda function")
            now = _iso_now()
            config: dict[str, Any] = {
                "FunctionUrl": self.function_url(secrets.token_hex(16), region), "FunctionArn": arn,
                "AuthType": auth_type, "CreationTime": now, "LastModifiedTime": now,
                "InvokeMode": invoke_mode}
            if body.get("Cors") is not None:
                config["Cors"] = _cors(body["Cors"])
            self.store.put_resource(record.name, URL, key, config)
        self.on_change(record.name)
        return {k: v for k, v in config.items() if k != "LastModifiedTime"}

    def get_function_url_config(self, function_name: str, qualifier: str | None,
                                region: str) -> dict[str, Any]:
        record, key, _ = self._url_target(function_name, qualifier, region)
        config = self.store.get_resource(record.name, URL, key)
        if config is None:
            raise errors.resource_not_found()
        return config

    def update_function_url_config(self, function_name: str, qualifier: str | None, body: dict[str, Any],
                                   region: str) -> dict[str, Any]:
        with self.store.lock:
            config = dict(self.get_function_url_config(function_name, qualifier, region))
            record, key, _ = self._url_target(function_name, qualifier, region)
            if body.get("AuthType") is not None:
                config["AuthType"] = _enum(body["AuthType"], "authType", ("NONE", "AWS_IAM"))
            if body.get("InvokeMode") is not None:
                config["InvokeMode"] = _enum(body["InvokeMode"], "invokeMode", INVOKE_MODES)
            if body.get("Cors") is not None:
                config["Cors"] = _cors(body["Cors"])
            config["LastModifiedTime"] = _iso_now()
            self.store.put_resource(record.name, URL, key, config)
        self.on_change(record.name)
        return config

    def delete_function_url_config(self, function_name: str, qualifier: str | None, region: str) -> None:
        record, key, _ = self._url_target(function_name, qualifier, region)
        if not self.store.delete_resource(record.name, URL, key):
            raise errors.resource_not_found()
        self.on_change(record.name)

    def list_function_url_configs(self, function_name: str, marker: str | None, max_items: str | None,
                                  region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "ListFunctionUrlConfigs", namespaced=False)
        configs = [config for _, _, config in self.store.list_resources(URL, record.name)]
        return _listing("FunctionUrlConfigs", configs, marker, max_items)

    def function_urls(self) -> dict[str, tuple[str, str | None, dict[str, Any]]]:
        """Every function URL's host label (its url id) → (function, alias or None, config)."""
        urls = {}
        for name, key, config in self.store.list_resources(URL):
            url_id = str(config["FunctionUrl"]).split("//", 1)[-1].split(".", 1)[0]
            urls[url_id] = (name, key or None, config)
        return urls

    def _url_target(self, function_name: str, qualifier: str | None,
                    region: str) -> tuple[FunctionRecord, str, str]:
        reference = arns.parse_function_reference(function_name)
        if qualifier is not None and not re.fullmatch(r"(?!\d+$)[0-9a-zA-Z-_]{1,128}", qualifier):
            raise errors.validation(qualifier, "qualifier", "Member must satisfy regular expression pattern: "
                                    r"((?!^\d+$)^[0-9a-zA-Z-_]+$)")
        key = arns.resolve_qualifier(reference, qualifier) or ""
        arns.check_reachable(reference, region, self.account, "GetFunctionUrlConfig")
        record = self._record(reference.name, region)
        if key:
            self._alias(record, key, region)
        return record, key, self._arn(region, record.name) + (f":{key}" if key else "")

    # --- asynchronous invocation ----------------------------------------------------------------

    def put_function_event_invoke_config(self, function_name: str, qualifier: str | None,
                                         body: dict[str, Any], region: str, *, merge: bool = False
                                         ) -> dict[str, Any]:
        with self.store.lock:
            record, key, arn = self._event_target(function_name, qualifier, region)
            previous = self.store.get_resource(record.name, EVENT_INVOKE, key)
            if merge and previous is None:
                raise errors.resource_not_found(f"The function {arn} doesn't have an EventInvokeConfig")
            base = dict(previous or {}) if merge else {}
            for member in ("MaximumRetryAttempts", "MaximumEventAgeInSeconds", "DestinationConfig"):
                if body.get(member) is not None:
                    base[member] = body[member]
            config = _event_invoke_config(base)
            config.update({"FunctionArn": arn, "LastModified": time.time()})
            self.store.put_resource(record.name, EVENT_INVOKE, key, config)
        self.on_change(record.name)
        return config

    def get_function_event_invoke_config(self, function_name: str, qualifier: str | None,
                                         region: str) -> dict[str, Any]:
        record, key, arn = self._event_target(function_name, qualifier, region)
        config = self.store.get_resource(record.name, EVENT_INVOKE, key)
        if config is None:
            raise errors.resource_not_found(f"The function {arn} doesn't have an EventInvokeConfig")
        return config

    def delete_function_event_invoke_config(self, function_name: str, qualifier: str | None,
                                            region: str) -> None:
        record, key, arn = self._event_target(function_name, qualifier, region)
        if not self.store.delete_resource(record.name, EVENT_INVOKE, key):
            raise errors.resource_not_found(f"The function {arn} doesn't have an EventInvokeConfig")
        self.on_change(record.name)

    def list_function_event_invoke_configs(self, function_name: str, marker: str | None,
                                           max_items: str | None, region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "ListFunctionEventInvokeConfigs")
        configs = [config for _, _, config in self.store.list_resources(EVENT_INVOKE, record.name)]
        return _listing("FunctionEventInvokeConfigs", configs, marker, max_items)

    def event_invoke_config(self, name: str) -> EventInvokeConfig | None:
        """The Event queue's settings of a function's unqualified invocations, if it has any."""
        config = self.store.get_resource(name, EVENT_INVOKE, LATEST)
        if config is None:
            return None
        return EventInvokeConfig(maximum_retry_attempts=config["MaximumRetryAttempts"],
                                 maximum_event_age_seconds=config["MaximumEventAgeInSeconds"])

    def _event_target(self, function_name: str, qualifier: str | None,
                      region: str) -> tuple[FunctionRecord, str, str]:
        reference = arns.parse_function_reference(function_name, namespaced=True)
        key = arns.resolve_qualifier(reference, qualifier) or LATEST
        record, _ = self._qualified(function_name, qualifier, region, "GetFunctionEventInvokeConfig")
        return record, key, f"{self._arn(region, record.name)}:{key}"

    # --- account and function settings ----------------------------------------------------------

    def get_account_settings(self) -> dict[str, Any]:
        functions = self.store.list_functions()
        reserved = sum(config["ReservedConcurrentExecutions"] for _, _, config
                       in self.store.list_resources(CONCURRENCY))
        return {
            "AccountLimit": {"TotalCodeSize": TOTAL_CODE_SIZE, "CodeSizeUnzipped": protocol.MAX_UNZIPPED_CODE,
                             "CodeSizeZipped": protocol.MAX_ZIPPED_DIRECT_UPLOAD,
                             "ConcurrentExecutions": ACCOUNT_CONCURRENCY,
                             "UnreservedConcurrentExecutions": ACCOUNT_CONCURRENCY - reserved},
            "AccountUsage": {"TotalCodeSize": self.store.storage_used(), "FunctionCount": len(functions)},
        }

    def get_function_code_signing_config(self, function_name: str, region: str) -> dict[str, Any]:
        record = self._latest(function_name, region, "GetFunctionCodeSigningConfig", namespaced=False)
        return {"CodeSigningConfigArn": "", "FunctionName": record.name}

    def get_runtime_management_config(self, function_name: str, qualifier: str | None,
                                      region: str) -> dict[str, Any]:
        _, configuration = self._qualified(function_name, qualifier, region, "GetRuntimeManagementConfig")
        return {"UpdateRuntimeOn": "Auto", "FunctionArn": configuration["FunctionArn"]}

    # --- finding functions ----------------------------------------------------------------------

    @contextlib.contextmanager
    def _freeing_code_on_error(self) -> Iterator[None]:
        """Code stored for a request that then fails is referenced by nothing: delete it."""
        try:
            yield
        except errors.ServiceError:
            self.store.collect_garbage()
            raise

    def _arn(self, region: str, name: str) -> str:
        return arns.function_arn(region, name, self.account)

    def _record(self, name: str, region: str) -> FunctionRecord:
        """The function called ``name`` in ``region``, or Lambda's not-found naming the caller's region."""
        record = self.store.get_function(name)
        if record is None or _region_of(record) != region:
            raise errors.function_not_found(self._arn(region, name))
        return record

    def _latest(self, function_name: str, region: str, action: str, *,
                namespaced: bool = True) -> FunctionRecord:
        """The function a FunctionName without a version names (updates, aliases, settings).

        ``namespaced``: the operation's FunctionName is botocore's NamespacedFunctionName (reads), as
        Invoke's is; updates take a plain FunctionName.
        """
        reference = arns.parse_function_reference(function_name, namespaced=namespaced)
        arns.check_reachable(reference, region, self.account, action)
        record = self._record(reference.name, region)
        if reference.qualifier not in (None, LATEST):
            raise errors.function_not_found(f"{self._arn(region, record.name)}:{reference.qualifier}")
        return record

    def _qualified(self, function_name: str, qualifier: str | None, region: str,
                   action: str) -> tuple[FunctionRecord, dict[str, Any]]:
        """The record and FunctionConfiguration a name and qualifier select: $LATEST, a version or an
        alias (whose version's configuration is shown under the alias's ARN)."""
        reference = arns.parse_function_reference(function_name, namespaced=True)
        qualifier = arns.resolve_qualifier(reference, qualifier)
        arns.check_reachable(reference, region, self.account, action)
        record = self._record(reference.name, region)
        if qualifier is None:
            return record, record.configuration
        if qualifier == LATEST:
            arn = f"{self._arn(region, record.name)}:{LATEST}"
            return record, {**record.configuration, "FunctionArn": arn}
        version = self.store.get_version(record.name, qualifier)
        if version is not None:
            return version, version.configuration
        alias = self.store.get_resource(record.name, ALIAS, qualifier)
        if alias is not None:
            target = (record if alias["FunctionVersion"] == LATEST
                      else self.store.get_version(record.name, alias["FunctionVersion"]))
            if target is not None:
                return target, {**target.configuration, "FunctionArn": alias["AliasArn"]}
        raise errors.function_not_found(f"{self._arn(region, record.name)}:{qualifier}")

    def _zip_from(self, code_spec: dict[str, Any], operation: str) -> bytes:
        """The zip bytes of ``Code``/``Content``: ZipFile within Lambda's direct-upload limit, or an S3
        object fetched through :attr:`code_source`."""
        if code_spec.get("ImageUri"):
            raise errors.invalid_parameter("lamina's local Lambda runs .zip deployment packages only "
                                           "(container images are not supported)")
        if code_spec.get("S3Bucket") or code_spec.get("S3Key"):
            if code_spec.get("ZipFile"):
                raise errors.invalid_parameter("Please do not provide other FunctionCode parameters when "
                                               "providing a ZipFile.")
            if not (code_spec.get("S3Bucket") and code_spec.get("S3Key")):
                raise errors.invalid_parameter("Please provide a source for function code.")
            data = self.code_source(str(code_spec["S3Bucket"]), str(code_spec["S3Key"]),
                                    code_spec.get("S3ObjectVersion"))
            return data
        return _zip_file(code_spec, operation)

    def _apply_configuration(self, configuration: dict[str, Any], body: dict[str, Any],
                             previous: list[Code] | None = None) -> list[Code]:
        """Validate and copy the configuration fields of ``body``; return the layers' code."""
        if "Role" in body:
            configuration["Role"] = _matching(body["Role"], ROLE_PATTERN, "role")
        if "Runtime" in body:
            configuration["Runtime"] = _runtime(body["Runtime"])
            configuration["RuntimeVersionConfig"] = _runtime_version(configuration)
        if "Handler" in body:
            configuration["Handler"] = _matching(body["Handler"], r"[^\s]{1,128}", "handler")
        if "Description" in body:
            configuration["Description"] = str(body["Description"])[:256]
        if "Timeout" in body:
            configuration["Timeout"] = _bounded(body["Timeout"], "timeout", 1, 900)
        if "MemorySize" in body:
            configuration["MemorySize"] = _bounded(body["MemorySize"], "memorySize", 128, 10240)
        if "EphemeralStorage" in body:
            size = (body["EphemeralStorage"] or {}).get("Size", 512)
            configuration["EphemeralStorage"] = {"Size": _bounded(size, "ephemeralStorage.size", 512, 10240)}
        if "Environment" in body:
            variables = _environment((body["Environment"] or {}).get("Variables") or {})
            configuration["Environment"] = {"Variables": variables}  # kept when empty, as Lambda shows it
        if "TracingConfig" in body:
            mode = (body["TracingConfig"] or {}).get("Mode", "PassThrough")
            configuration["TracingConfig"] = {"Mode": _enum(mode, "tracingConfig.mode",
                                                            ("Active", "PassThrough"))}
        if "SnapStart" in body:
            apply_on = (body["SnapStart"] or {}).get("ApplyOn", "None")
            configuration["SnapStart"] = {
                "ApplyOn": _enum(apply_on, "snapStart.applyOn", ("PublishedVersions", "None")),
                "OptimizationStatus": "Off"}
        if "LoggingConfig" in body:
            configuration["LoggingConfig"] = _logging_config(configuration.get("LoggingConfig") or {},
                                                             body["LoggingConfig"] or {})
        if "Layers" not in body:
            return list(previous or [])
        return self._resolve_layers(configuration, body["Layers"] or [])

    def _resolve_layers(self, configuration: dict[str, Any], layer_arns: list[str]) -> list[Code]:
        if len(layer_arns) > protocol.MAX_LAYERS_PER_FUNCTION:
            raise errors.invalid_parameter(
                f"Cannot reference more than {protocol.MAX_LAYERS_PER_FUNCTION} layers.")
        region = str(configuration["FunctionArn"]).split(":")[3]
        codes: list[Code] = []
        shown: list[dict[str, Any]] = []
        seen: dict[str, str] = {}
        for layer_version_arn in layer_arns:
            layer_region, layer_name, version = arns.parse_layer_version_arn(layer_version_arn)
            if layer_region != region:
                raise errors.invalid_parameter("Layers are not in the same region as the function. "
                                               f"Layers are expected to be in region {region}.")
            if layer_name in seen:
                raise errors.invalid_parameter(
                    "Two different versions of the same layer are not allowed to be referenced in the same "
                    f"function. {seen[layer_name]} and {layer_version_arn} are versions of the same layer.")
            seen[layer_name] = layer_version_arn
            layer = self.store.get_layer_version(_layer_key(layer_region, layer_name), version) \
                if version >= 1 else None
            if layer is None:
                raise errors.invalid_parameter(f"Layer version {layer_version_arn} does not exist.")
            codes.append(layer.code)
            shown.append({"Arn": layer.response["LayerVersionArn"], "CodeSize": layer.code.size})
        if shown:
            configuration["Layers"] = shown
        else:
            configuration.pop("Layers", None)
        return codes

    # --- layers -----------------------------------------------------------------------------

    def publish_layer_version(self, layer_name: str, body: dict[str, Any], region: str,
                              code_url: str) -> dict[str, Any]:
        name = arns.parse_layer_name(layer_name)
        content = _required(body, "Content")
        if not isinstance(content, dict):
            raise errors.validation(content, "content", "Member must be a structure")
        zip_bytes = self._zip_from(content, "PublishLayerVersion")
        runtimes = list(body.get("CompatibleRuntimes") or [])
        architectures = list(body.get("CompatibleArchitectures") or [])
        for architecture in architectures:
            if architecture not in ARCHITECTURES:
                raise errors.validation(f"[{', '.join(architectures)}]", "compatibleArchitectures",
                                        "Member must satisfy enum value set: [x86_64, arm64]")
        created = _now()

        def build(version: int) -> dict[str, Any]:
            response: dict[str, Any] = {
                "Content": {"CodeSha256": code.sha256_b64, "CodeSize": code.size},
                "LayerArn": arns.layer_arn(region, name),
                "LayerVersionArn": arns.layer_version_arn(region, name, version),
                "Description": str(body.get("Description") or ""),
                "CreatedDate": created,
                "Version": version,
            }
            response["CompatibleRuntimes"] = runtimes  # shown empty, as Lambda shows them
            response["CompatibleArchitectures"] = architectures
            if body.get("LicenseInfo"):
                response["LicenseInfo"] = str(body["LicenseInfo"])
            return response

        with self.store.lock:
            code = self.store.put_code(zip_bytes)
            record = self.store.add_layer_version(_layer_key(region, name), code, build)
        return _with_location(record, code_url)

    def get_layer_version(self, layer_name: str, version: str, code_url: str, region: str) -> dict[str, Any]:
        key = _layer_key(region, arns.parse_layer_name(layer_name))
        record = self.store.get_layer_version(key, _version_number(version))
        if record is None:
            raise errors.layer_version_not_found()
        return _with_location(record, code_url)

    def get_layer_version_by_arn(self, arn: str | None, code_url: str) -> dict[str, Any]:
        if not arn:
            raise errors.validation(arn, "arn", "Member must not be null")
        layer_region, layer_name, version = arns.parse_layer_version_arn(arn)
        record = self.store.get_layer_version(_layer_key(layer_region, layer_name), version)
        if record is None:
            raise errors.layer_version_not_found()
        return _with_location(record, code_url)

    def list_layers(self, runtime: str | None, architecture: str | None, marker: str | None,
                    max_items: str | None, region: str) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for record in self.store.all_layer_versions():  # newest first within each layer
            if record.layer_name in latest or not _compatible(record, runtime, architecture):
                continue
            layer_region, _, name = _region_and_name(record.layer_name)
            if layer_region != region:  # each region has layers of its own
                continue
            latest[record.layer_name] = {"LayerName": name,
                                         "LayerArn": record.response["LayerArn"],
                                         "LatestMatchingVersion": _list_item(record)}
        return _listing("Layers", list(latest.values()), marker, max_items)

    def list_layer_versions(self, layer_name: str, runtime: str | None, architecture: str | None,
                            marker: str | None, max_items: str | None, region: str) -> dict[str, Any]:
        records = self.store.list_layer_versions(_layer_key(region, arns.parse_layer_name(layer_name)))
        items = [_list_item(record) for record in records if _compatible(record, runtime, architecture)]
        return _listing("LayerVersions", items, marker, max_items)

    def delete_layer_version(self, layer_name: str, version: str, region: str) -> None:
        # idempotent in Lambda: deleting a missing version succeeds; functions keep their copy
        key = _layer_key(region, arns.parse_layer_name(layer_name))
        self.store.delete_layer_version(key, _version_number(version))


def _layer_key(region: str, name: str) -> str:
    """Where a layer is stored: each region has a namespace of its own, as on Lambda (the default
    region's layers keep their plain name, as they were stored before regions were told apart)."""
    return name if region == arns.DEFAULT_REGION else f"{region}/{name}"


def _region_and_name(key: str) -> tuple[str, str, str]:
    region, slash, name = key.rpartition("/")
    return (region, slash, name) if slash else (arns.DEFAULT_REGION, "", key)


def _new_configuration(name: str, region: str, account: str) -> dict[str, Any]:
    """FunctionConfiguration with Lambda's defaults; Active at once, as nothing here runs asynchronously."""
    return {
        "FunctionName": name,
        "FunctionArn": arns.function_arn(region, name, account),
        "Description": "",
        "Timeout": 3,
        "MemorySize": 128,
        "Version": LATEST,
        "TracingConfig": {"Mode": "PassThrough"},
        "PackageType": "Zip",
        "Architectures": ["x86_64"],
        "EphemeralStorage": {"Size": 512},
        "SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"},
        "LoggingConfig": {"LogFormat": "Text", "LogGroup": f"/aws/lambda/{name}"},
        "State": "Active",
        "LastUpdateStatus": "Successful",
    }


def _required(body: dict[str, Any], key: str) -> Any:
    value = body.get(key)
    if value is None or value == "":
        member = key[0].lower() + key[1:]
        raise errors.validation(None, member, "Member must not be null")
    return value


def _zip_file(code_spec: dict[str, Any], operation: str) -> bytes:
    """The zip bytes of ``ZipFile``, within Lambda's direct-upload limit."""
    encoded = code_spec.get("ZipFile")
    if not encoded:
        raise errors.invalid_parameter("Please provide a source for function code.")
    if len(encoded) > protocol.MAX_DIRECT_UPLOAD_REQUEST:
        raise errors.upload_too_large(operation)
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise errors.invalid_json("ZipFile is not valid base64") from None
    if len(data) > protocol.MAX_ZIPPED_DIRECT_UPLOAD:
        raise errors.zipped_too_large()
    return data


def _in_progress(configuration: dict[str, Any]) -> dict[str, Any]:
    """An update's reply: in progress, as Lambda answers before the update is applied."""
    return {**configuration, "LastUpdateStatus": "InProgress",
            "LastUpdateStatusReason": "The function is being created.",
            "LastUpdateStatusReasonCode": "Creating"}


def _listed(configuration: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in configuration.items() if key not in NOT_LISTED}


def _published_view(configuration: dict[str, Any]) -> dict[str, Any]:
    return {key: value for key, value in configuration.items() if key not in _NOT_PUBLISHED}


def _weights(alias: dict[str, Any]) -> list[str]:
    return list(((alias.get("RoutingConfig") or {}).get("AdditionalVersionWeights") or {}).keys())


def _alias_name(value: Any) -> str:
    if not isinstance(value, str) or not arns.is_alias_name(value):
        raise errors.validation(value, "name", f"Member must satisfy regular expression pattern: "
                                f"{arns.ALIAS_PATTERN}")
    return value


def _tags(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise errors.validation(value, "tags", "Member must be a map")
    return {str(key): str(item) for key, item in value.items()}


def _principal(principal: str) -> Any:
    """A Principal as Lambda writes it into the policy: a service, an account's root, an ARN, or *."""
    if principal == "*":
        return "*"
    if re.fullmatch(r"\d{12}", principal):
        return {"AWS": f"arn:aws:iam::{principal}:root"}
    if principal.startswith("arn:"):
        return {"AWS": principal}
    return {"Service": principal}


def _statement(sid: str, action: str, principal: str, resource: str, body: dict[str, Any]) -> dict[str, Any]:
    """One policy statement, as GetPolicy shows it."""
    statement: dict[str, Any] = {"Sid": sid, "Effect": "Allow", "Principal": _principal(principal),
                                 "Action": action, "Resource": resource}
    equals: dict[str, str] = {}
    if body.get("SourceAccount"):
        equals["AWS:SourceAccount"] = _matching(body["SourceAccount"], r"\d{12}", "sourceAccount")
    if body.get("PrincipalOrgID"):
        equals["aws:PrincipalOrgID"] = str(body["PrincipalOrgID"])
    if body.get("EventSourceToken"):
        equals["lambda:EventSourceToken"] = str(body["EventSourceToken"])
    if body.get("FunctionUrlAuthType"):
        equals["lambda:FunctionUrlAuthType"] = _enum(body["FunctionUrlAuthType"], "functionUrlAuthType",
                                                     ("NONE", "AWS_IAM"))
    condition: dict[str, Any] = {}
    if equals:
        condition["StringEquals"] = equals
    if body.get("SourceArn"):
        condition["ArnLike"] = {"AWS:SourceArn": str(body["SourceArn"])}
    if body.get("InvokedViaFunctionUrl"):
        condition["Bool"] = {"lambda:InvokedViaFunctionUrl": "true"}
    if condition:
        statement["Condition"] = condition
    return statement


def _enum(value: Any, member: str, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise errors.validation(value, member, f"Member must satisfy enum value set: [{', '.join(allowed)}]")
    return str(value)


def _cors(value: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise errors.validation(value, "cors", "Member must be a structure")
    if value.get("MaxAge") is not None:
        _bounded(value["MaxAge"], "cors.maxAge", 0, 86400)
    return {key: value[key] for key in ("AllowCredentials", "AllowHeaders", "AllowMethods", "AllowOrigins",
                                        "ExposeHeaders", "MaxAge") if value.get(key) is not None}


def _iso_now() -> str:
    """The timestamp format of function URL configs: ``2024-01-01T00:00:00.000000Z``."""
    return dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _event_invoke_config(values: dict[str, Any]) -> dict[str, Any]:
    """A FunctionEventInvokeConfig with Lambda's defaults, its bounds checked by the Event queue's policy."""
    retries = values.get("MaximumRetryAttempts", 2)
    age = values.get("MaximumEventAgeInSeconds", 21600)
    try:
        EventInvokeConfig(maximum_retry_attempts=retries, maximum_event_age_seconds=age)
    except InvalidEventInvokeConfigError as exc:
        raise errors.invalid_parameter(str(exc)) from None
    destinations = values.get("DestinationConfig") or {}
    return {"MaximumRetryAttempts": retries, "MaximumEventAgeInSeconds": age,
            "DestinationConfig": {"OnSuccess": dict(destinations.get("OnSuccess") or {}),
                                  "OnFailure": dict(destinations.get("OnFailure") or {})}}


def _runtime(value: Any) -> str:
    if value in DEPRECATED_RUNTIMES:
        raise errors.invalid_parameter(
            f"The runtime parameter of {value} is no longer supported for creating or updating AWS Lambda "
            f"functions. We recommend you use the new runtime ({DEPRECATED_RUNTIMES[value]}) while creating "
            "or updating functions.")
    if value not in RUNTIMES:
        raise errors.invalid_parameter(
            f"Value {value} at 'runtime' failed to satisfy constraint: Member must satisfy enum value set: "
            f"[{', '.join(RUNTIME_ENUM)}] or be a valid ARN")
    return str(value)


def _runtime_version(configuration: dict[str, Any]) -> dict[str, str]:
    """RuntimeVersionConfig: one stable runtime version per runtime and region (lamina has one each)."""
    region = str(configuration["FunctionArn"]).split(":")[3]
    digest = hashlib.sha256(f"lamina:{configuration['Runtime']}".encode()).hexdigest()
    return {"RuntimeVersionArn": f"arn:aws:lambda:{region}::runtime:{digest}"}


def _logging_config(current: dict[str, Any], update: Any) -> dict[str, Any]:
    """LoggingConfig after an update: log levels belong to the JSON format and go with it."""
    if not isinstance(update, dict):
        raise errors.validation(update, "loggingConfig", "Member must be a structure")
    merged = {**current, **update}
    log_format = _enum(merged.get("LogFormat"), "loggingConfig.logFormat", ("JSON", "Text"))
    if log_format == "Text":
        merged.pop("ApplicationLogLevel", None)
        merged.pop("SystemLogLevel", None)
        return merged
    merged["ApplicationLogLevel"] = _enum(merged.get("ApplicationLogLevel", "INFO"),
                                          "loggingConfig.applicationLogLevel", LOG_LEVELS)
    merged["SystemLogLevel"] = _enum(merged.get("SystemLogLevel", "INFO"), "loggingConfig.systemLogLevel",
                                     ("DEBUG", "INFO", "WARN"))
    return merged


def _set_code(configuration: dict[str, Any], code: Code) -> None:
    configuration["CodeSha256"] = code.sha256_b64
    configuration["CodeSize"] = code.size
    _touch(configuration)


def _touch(configuration: dict[str, Any]) -> None:
    configuration["LastModified"] = _now()
    configuration["RevisionId"] = str(uuid.uuid4())
    configuration["State"] = "Active"
    configuration["LastUpdateStatus"] = "Successful"


def _now() -> str:
    """Lambda's timestamp format: ``2024-01-01T00:00:00.000+0000``."""
    now = dt.datetime.now(dt.timezone.utc)
    return now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}+0000"


def _check_revision(record: FunctionRecord, body: dict[str, Any]) -> None:
    revision = body.get("RevisionId")
    if revision and revision != record.configuration.get("RevisionId"):
        raise errors.revision_mismatch()


def _check_combined_size(code: Code, layers: list[Code]) -> None:
    total = code.unzipped_size + sum(layer.unzipped_size for layer in layers)
    if total > protocol.MAX_UNZIPPED_CODE:
        raise errors.combined_too_large(total)


def _architectures(value: Any) -> list[str]:
    if not isinstance(value, list) or len(value) != 1 or value[0] not in ARCHITECTURES:
        shown = f"[{', '.join(map(str, value))}]" if isinstance(value, list) else value
        raise errors.validation(shown, "architectures",
                                "Member must have length less than or equal to 1 and satisfy enum "
                                "value set: [x86_64, arm64]")
    return [value[0]]


def _matching(value: Any, pattern: str, member: str) -> str:
    if not isinstance(value, str) or not re.fullmatch(pattern, value):
        raise errors.validation(value, member, f"Member must satisfy regular expression pattern: {pattern}")
    return value


def _bounded(value: Any, member: str, low: int, high: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise errors.validation(value, member, "Member must be an integer")
    if value < low:
        raise errors.validation(value, member, f"Member must have value greater than or equal to {low}")
    if value > high:
        raise errors.validation(value, member, f"Member must have value less than or equal to {high}")
    return value


def _environment(variables: Any) -> dict[str, str]:
    if not isinstance(variables, dict):
        raise errors.validation(variables, "environment.variables", "Member must be a map")
    reserved = sorted(key for key in variables if key in RESERVED_ENV_KEYS)
    if reserved:
        raise errors.invalid_parameter(
            "Lambda was unable to configure your environment variables because the environment variables "
            "you have provided contains reserved keys that are currently not supported for modification. "
            f"Reserved keys used in this request: {','.join(reserved)}")
    for key in variables:
        _matching(key, ENV_KEY_PATTERN, "environment.variables")
    checked = {str(key): str(value) for key, value in variables.items()}
    measured = json.dumps(checked, separators=(",", ":"), ensure_ascii=False)  # as Lambda measures them
    if len(measured.encode()) > errors.ENVIRONMENT_LIMIT:
        raise errors.environment_too_large(measured)
    return checked


def _region_of(record: FunctionRecord) -> str:
    return str(record.configuration["FunctionArn"]).split(":")[3]


def _version_number(value: str) -> int:
    if not str(value).isdigit():
        raise errors.validation(value, "versionNumber", "Member must be a number")
    return int(value)


def _with_location(record: LayerVersionRecord, code_url: str) -> dict[str, Any]:
    response = dict(record.response)
    response["Content"] = {**response["Content"], "Location": f"{code_url}/{record.code.sha256_hex}.zip"}
    return response


def _list_item(record: LayerVersionRecord) -> dict[str, Any]:
    return {key: value for key, value in record.response.items() if key not in ("Content", "LayerArn")}


def _compatible(record: LayerVersionRecord, runtime: str | None, architecture: str | None) -> bool:
    if runtime and runtime not in record.response.get("CompatibleRuntimes", []):
        return False
    return not (architecture and architecture not in record.response.get("CompatibleArchitectures", []))


def _listing(member: str, items: list[dict[str, Any]], marker: str | None,
             max_items: str | None) -> dict[str, Any]:
    """A List operation's answer: one page of ``items`` as ``member``, and ``NextMarker`` if more follow."""
    page, next_marker = _paginate(items, marker, max_items)
    response: dict[str, Any] = {member: page}
    if next_marker:
        response["NextMarker"] = next_marker
    return response


def _paginate(items: list[dict[str, Any]], marker: str | None,
              max_items: str | None) -> tuple[list[dict[str, Any]], str | None]:
    """One page of ``items`` after the opaque ``marker`` (the index of the page's first item)."""
    try:
        start = int(base64.urlsafe_b64decode(marker.encode()).decode()) if marker else 0
        size = min(int(max_items), MAX_LIST_ITEMS) if max_items else MAX_LIST_ITEMS
    except (ValueError, binascii.Error):
        raise errors.invalid_parameter("Invalid pagination marker or MaxItems.") from None
    if size < 1:
        raise errors.validation(max_items, "maxItems", "Member must have value greater than or equal to 1")
    page = items[start:start + size]
    more = start + size < len(items)
    next_marker = base64.urlsafe_b64encode(str(start + size).encode()).decode() if more else None
    return page, next_marker
