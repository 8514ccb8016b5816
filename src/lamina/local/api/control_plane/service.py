"""The control plane's operations, free of HTTP: validate a request, change the store, shape the reply.

Each public method is one Lambda API operation and takes the decoded JSON request (and the path or
query parameters) and returns the response body AWS would send. Errors are :class:`ServiceError` with
AWS's name and message. The route layer only moves bytes, so these are testable without a server.

lamina keeps only ``$LATEST``: ``Publish`` is accepted and ignored, and a numeric qualifier or alias
is reported as not found, as for a function that has no such version.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from lamina.local.api.control_plane.store import Code, FunctionRecord, FunctionStore, LayerVersionRecord
from lamina.local.model import names as arns
from lamina.local.model import service_errors as errors
from lamina.runtime import protocol

LATEST = "$LATEST"
RUNTIMES = frozenset([
    "nodejs18.x", "nodejs20.x", "nodejs22.x", "nodejs24.x", "java8.al2", "java11", "java17", "java21",
    "java25", "python3.8", "python3.9", "python3.10", "python3.11", "python3.12", "python3.13",
    "python3.14", "dotnet6", "dotnet8", "dotnet10", "ruby3.2", "ruby3.3", "ruby3.4", "provided",
    "provided.al2", "provided.al2023",
])
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
MAX_LIST_ITEMS = 50

OnChange = Callable[[str], None]


class ControlPlane:
    """Lambda's function and layer operations over a :class:`FunctionStore`.

    ``on_change(name)`` is called after a function is created, updated or deleted, so the local
    Lambda can drop warm execution environments that run the old code or configuration.
    """

    def __init__(self, store: FunctionStore, on_change: OnChange | None = None) -> None:
        self.store = store
        self.on_change = on_change or (lambda name: None)

    # --- functions --------------------------------------------------------------------------

    def create_function(self, body: dict[str, Any], region: str) -> dict[str, Any]:
        name = _plain_function_name(_required(body, "FunctionName"))
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
        zip_bytes = _zip_from(code_spec, "CreateFunction")
        configuration = _new_configuration(name, region)
        if body.get("Architectures") is not None:
            configuration["Architectures"] = _architectures(body["Architectures"])
        with self.store.lock, self._freeing_code_on_error():
            if self.store.get_function(name) is not None:
                raise errors.function_exists(name)
            layer_codes = self._apply_configuration(configuration, body)
            code = self.store.put_code(zip_bytes)
            _check_combined_size(code, layer_codes)
            _set_code(configuration, code)
            tags = body.get("Tags") or {}
            record = FunctionRecord(configuration, dict(tags), code, layer_codes)
            self.store.insert_function(record)
        self.on_change(name)
        return configuration

    def update_function_code(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        zip_bytes = _zip_from(body, "UpdateFunctionCode")
        # read, check the revision and write as one step against concurrent updates
        with self.store.lock, self._freeing_code_on_error():
            record = self._latest(function_name, namespaced=False)
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
            self.store.replace_function(FunctionRecord(configuration, record.tags, code, record.layers))
            self.store.collect_garbage()
        self.on_change(record.name)
        return configuration

    def update_function_configuration(self, function_name: str, body: dict[str, Any]) -> dict[str, Any]:
        with self.store.lock:
            record = self._latest(function_name, namespaced=False)
            _check_revision(record, body)
            configuration = dict(record.configuration)
            layer_codes = self._apply_configuration(configuration, body, previous=record.layers)
            _check_combined_size(record.code, layer_codes)
            _touch(configuration)
            self.store.replace_function(FunctionRecord(configuration, record.tags, record.code, layer_codes))
            self.store.collect_garbage()
        self.on_change(record.name)
        return configuration

    def get_function(self, function_name: str, qualifier: str | None, code_url: str) -> dict[str, Any]:
        record = self._latest(function_name, qualifier)
        return {
            "Configuration": record.configuration,
            "Code": {"RepositoryType": "S3", "Location": f"{code_url}/{record.code.sha256_hex}.zip"},
            "Tags": record.tags,
        }

    def get_function_configuration(self, function_name: str, qualifier: str | None) -> dict[str, Any]:
        return self._latest(function_name, qualifier).configuration

    def list_functions(self, marker: str | None, max_items: str | None) -> dict[str, Any]:
        configurations = [record.configuration for record in self.store.list_functions()]
        page, next_marker = _paginate(configurations, marker, max_items)
        response: dict[str, Any] = {"Functions": page}
        if next_marker:
            response["NextMarker"] = next_marker
        return response

    def delete_function(self, function_name: str, qualifier: str | None) -> None:
        record = self._latest(function_name, qualifier)
        self.store.delete_function(record.name)
        self.on_change(record.name)

    @contextlib.contextmanager
    def _freeing_code_on_error(self) -> Iterator[None]:
        """Code stored for a request that then fails is referenced by nothing: delete it."""
        try:
            yield
        except errors.ServiceError:
            self.store.collect_garbage()
            raise

    def function(self, name: str) -> FunctionRecord | None:
        """The stored function called ``name`` (for the local Lambda's registry)."""
        return self.store.get_function(name)

    def _latest(self, function_name: str, qualifier: str | None = None, *,
                namespaced: bool = True) -> FunctionRecord:
        """``namespaced``: the operation's FunctionName is botocore's NamespacedFunctionName (reads,
        DeleteFunction), as Invoke's is; updates take a plain FunctionName."""
        name, name_qualifier = arns.parse_function_name(function_name, namespaced=namespaced)
        qualifier = arns.parse_qualifier(qualifier) or name_qualifier
        record = self.store.get_function(name)
        if record is None or qualifier not in (None, LATEST):
            arn = arns.function_arn(arns.DEFAULT_REGION if record is None else _region_of(record), name)
            raise errors.function_not_found(f"{arn}:{qualifier}" if qualifier else arn)
        return record

    def _apply_configuration(self, configuration: dict[str, Any], body: dict[str, Any],
                             previous: list[Code] | None = None) -> list[Code]:
        """Validate and copy the configuration fields of ``body``; return the layers' code."""
        if "Role" in body:
            configuration["Role"] = _matching(body["Role"], ROLE_PATTERN, "role")
        if "Runtime" in body:
            if body["Runtime"] not in RUNTIMES:
                raise errors.invalid_parameter(
                    f"Value {body['Runtime']} at 'runtime' failed to satisfy constraint: Member must "
                    f"satisfy enum value set: [{', '.join(sorted(RUNTIMES))}] or be a valid ARN")
            configuration["Runtime"] = body["Runtime"]
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
            if variables:
                configuration["Environment"] = {"Variables": variables}
            else:
                configuration.pop("Environment", None)
        if "TracingConfig" in body:
            mode = (body["TracingConfig"] or {}).get("Mode", "PassThrough")
            configuration["TracingConfig"] = {"Mode": mode}
        if "LoggingConfig" in body:
            logging_config = {**configuration.get("LoggingConfig", {}), **(body["LoggingConfig"] or {})}
            if logging_config.get("LogFormat") not in ("Text", "JSON"):
                raise errors.validation(logging_config.get("LogFormat"), "loggingConfig.logFormat",
                                        "Member must satisfy enum value set: [JSON, Text]")
            if logging_config["LogFormat"] == "JSON":
                logging_config.setdefault("ApplicationLogLevel", "INFO")
                logging_config.setdefault("SystemLogLevel", "INFO")
            configuration["LoggingConfig"] = logging_config
        if "Layers" not in body:
            return list(previous or [])
        return self._resolve_layers(configuration, body["Layers"] or [])

    def _resolve_layers(self, configuration: dict[str, Any], layer_arns: list[str]) -> list[Code]:
        if len(layer_arns) > protocol.MAX_LAYERS_PER_FUNCTION:
            raise errors.invalid_parameter(
                f"Cannot reference more than {protocol.MAX_LAYERS_PER_FUNCTION} layers.")
        codes: list[Code] = []
        shown: list[dict[str, Any]] = []
        for layer_version_arn in layer_arns:
            _, layer_name, version = arns.parse_layer_version_arn(layer_version_arn)
            layer = self.store.get_layer_version(layer_name, version)
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
        zip_bytes = _zip_from(content, "PublishLayerVersion")
        runtimes = list(body.get("CompatibleRuntimes") or [])
        architectures = list(body.get("CompatibleArchitectures") or [])
        for architecture in architectures:
            if architecture not in ARCHITECTURES:
                raise errors.validation(architectures, "compatibleArchitectures",
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
            if runtimes:
                response["CompatibleRuntimes"] = runtimes
            if architectures:
                response["CompatibleArchitectures"] = architectures
            if body.get("LicenseInfo"):
                response["LicenseInfo"] = str(body["LicenseInfo"])
            return response

        with self.store.lock:
            code = self.store.put_code(zip_bytes)
            record = self.store.add_layer_version(name, code, build)
        return _with_location(record, code_url)

    def get_layer_version(self, layer_name: str, version: str, code_url: str) -> dict[str, Any]:
        record = self.store.get_layer_version(arns.parse_layer_name(layer_name), _version_number(version))
        if record is None:
            raise errors.layer_version_not_found()
        return _with_location(record, code_url)

    def get_layer_version_by_arn(self, arn: str | None, code_url: str) -> dict[str, Any]:
        if not arn:
            raise errors.validation(arn, "arn", "Member must not be null")
        _, layer_name, version = arns.parse_layer_version_arn(arn)
        record = self.store.get_layer_version(layer_name, version)
        if record is None:
            raise errors.layer_version_not_found()
        return _with_location(record, code_url)

    def list_layers(self, runtime: str | None, architecture: str | None, marker: str | None,
                    max_items: str | None) -> dict[str, Any]:
        latest: dict[str, dict[str, Any]] = {}
        for record in self.store.all_layer_versions():  # newest first within each layer
            if record.layer_name in latest or not _compatible(record, runtime, architecture):
                continue
            latest[record.layer_name] = {"LayerName": record.layer_name,
                                         "LayerArn": record.response["LayerArn"],
                                         "LatestMatchingVersion": _list_item(record)}
        page, next_marker = _paginate(list(latest.values()), marker, max_items)
        response: dict[str, Any] = {"Layers": page}
        if next_marker:
            response["NextMarker"] = next_marker
        return response

    def list_layer_versions(self, layer_name: str, runtime: str | None, architecture: str | None,
                            marker: str | None, max_items: str | None) -> dict[str, Any]:
        records = self.store.list_layer_versions(arns.parse_layer_name(layer_name))
        items = [_list_item(record) for record in records if _compatible(record, runtime, architecture)]
        page, next_marker = _paginate(items, marker, max_items)
        response: dict[str, Any] = {"LayerVersions": page}
        if next_marker:
            response["NextMarker"] = next_marker
        return response

    def delete_layer_version(self, layer_name: str, version: str) -> None:
        # idempotent in Lambda: deleting a missing version succeeds; functions keep their copy
        self.store.delete_layer_version(arns.parse_layer_name(layer_name), _version_number(version))


def _new_configuration(name: str, region: str) -> dict[str, Any]:
    """FunctionConfiguration with Lambda's defaults; Active at once, as nothing here runs asynchronously."""
    return {
        "FunctionName": name,
        "FunctionArn": arns.function_arn(region, name),
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


def _plain_function_name(value: Any) -> str:
    name, qualifier = arns.parse_function_name(str(value))
    if qualifier:
        raise errors.invalid_parameter("Qualifier is not supported when creating a function.")
    return name


def _zip_from(code_spec: dict[str, Any], operation: str) -> bytes:
    """The zip bytes of ``Code``/``Content``: ZipFile only, within Lambda's direct-upload limit."""
    if code_spec.get("S3Bucket") or code_spec.get("S3Key") or code_spec.get("ImageUri"):
        raise errors.invalid_parameter("lamina's local Lambda accepts code as ZipFile only "
                                       "(S3 objects and container images are not supported)")
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
        raise errors.upload_too_large(operation)
    return data


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
        raise errors.validation(value, "architectures",
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
