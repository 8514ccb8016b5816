"""Lambda's service exceptions, as the control plane raises them.

The exception type and its wire shape are the local Lambda's (:mod:`lamina.local.model.service_errors`), shared
with the Invoke API; the constructors below hold the control plane's messages, AWS's own words, so every
caller says the same thing for the same failure.
"""

from __future__ import annotations

from lamina.local.model import service_errors
from lamina.local.model.service_errors import ServiceError, invalid_json, invalid_parameter
from lamina.runtime import error_types, protocol

__all__ = ["ServiceError", "invalid_parameter"]


def function_not_found(function_arn: str) -> ServiceError:
    return ServiceError(error_types.RESOURCE_NOT_FOUND, f"Function not found: {function_arn}")


def layer_version_not_found() -> ServiceError:
    return ServiceError(error_types.RESOURCE_NOT_FOUND, "The resource you requested does not exist.")


def function_exists(name: str) -> ServiceError:
    return ServiceError(error_types.RESOURCE_CONFLICT, f"Function already exist: {name}")


def revision_mismatch() -> ServiceError:
    return ServiceError(error_types.PRECONDITION_FAILED,
                        "The Revision Id provided does not match the latest Revision Id. "
                        "Call the GetFunction/GetAlias API to retrieve the latest Revision Id")


def request_too_large(operation: str) -> ServiceError:
    return service_errors.request_too_large(protocol.MAX_DIRECT_UPLOAD_REQUEST, operation)


def unzipped_too_large() -> ServiceError:
    return invalid_parameter(f"Unzipped size must be smaller than {protocol.MAX_UNZIPPED_CODE} bytes")


def combined_too_large(actual: int) -> ServiceError:
    return invalid_parameter("Function code combined with layers exceeds the maximum allowed size of "
                             f"{protocol.MAX_UNZIPPED_CODE} bytes. The actual size is {actual} bytes.")


def code_storage_exceeded() -> ServiceError:
    return ServiceError(error_types.CODE_STORAGE_EXCEEDED, "Code storage limit exceeded.")


def bad_zip(reason: str) -> ServiceError:
    # AWS's sentence first (tools match on it), then what lamina found, so the user can fix the zip.
    return invalid_parameter(
        f"Could not unzip uploaded file. Please check your file, then try to upload again. ({reason})")


def validation(value: object, member: str, constraint: str) -> ServiceError:
    return ServiceError(error_types.VALIDATION,
                        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                        f"constraint: {constraint}")


def bad_json(detail: str) -> ServiceError:
    return invalid_json(detail)
