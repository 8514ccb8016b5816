"""The JSON types of the request members the control plane reads, checked before anything else.

botocore never sends a wrong type, but curl or a hand-written client can; AWS refuses such a body
before looking at its values, and so does this, so that no operation ever trips over a list where it
expected a string.
"""

from __future__ import annotations

from typing import Any, Union

from lamina.local.model import service_errors as errors

# member -> expected JSON type: str, int, bool, dict (of the nested spec), or a one-item list (of that)
Spec = Union[type, dict[str, Any], list[Any]]
STRING_MAP = {"*": str}
MEMBERS: dict[str, Spec] = {
    "FunctionName": str, "Role": str, "Runtime": str, "Handler": str, "Description": str,
    "Timeout": int, "MemorySize": int, "PackageType": str, "Publish": bool, "RevisionId": str,
    "DryRun": bool, "ZipFile": str, "S3Bucket": str, "S3Key": str, "S3ObjectVersion": str, "ImageUri": str,
    "LicenseInfo": str, "Layers": [str], "Architectures": [str], "CompatibleRuntimes": [str],
    "CompatibleArchitectures": [str], "Tags": STRING_MAP,
    "Code": {"ZipFile": str, "S3Bucket": str, "S3Key": str, "S3ObjectVersion": str, "ImageUri": str},
    "Content": {"ZipFile": str, "S3Bucket": str, "S3Key": str, "S3ObjectVersion": str},
    "Environment": {"Variables": STRING_MAP},
    "EphemeralStorage": {"Size": int},
    "TracingConfig": {"Mode": str},
    "LoggingConfig": {"LogFormat": str, "ApplicationLogLevel": str, "SystemLogLevel": str, "LogGroup": str},
}


def check(body: dict[str, Any]) -> None:
    """Refuse ``body`` with InvalidRequestContentException when a known member has the wrong type."""
    for key, value in body.items():
        spec = MEMBERS.get(key)
        if spec is not None and value is not None:
            _check(key, value, spec)


def _check(path: str, value: Any, spec: Spec) -> None:
    if isinstance(spec, list):
        if not isinstance(value, list):
            raise _wrong(path, "a list")
        for index, item in enumerate(value):
            _check(f"{path}[{index}]", item, spec[0])
    elif isinstance(spec, dict):
        if not isinstance(value, dict):
            raise _wrong(path, "an object")
        for key, item in value.items():
            inner = spec.get(key, spec.get("*"))
            if inner is not None and item is not None:
                _check(f"{path}.{key}", item, inner)
    elif spec is int:
        if not isinstance(value, int) or isinstance(value, bool):
            raise _wrong(path, "an integer")
    elif not isinstance(value, spec):
        raise _wrong(path, {str: "a string", bool: "a boolean"}.get(spec, spec.__name__))


def _wrong(path: str, expected: str) -> errors.ServiceError:
    return errors.invalid_json(f"{path} must be {expected}")
