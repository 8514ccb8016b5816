"""Lambda's service exceptions, as the control plane raises them.

A handler raises :class:`ServiceError`; the route layer turns it into AWS's wire shape (status,
``X-Amzn-ErrorType`` header, ``{"Type": "User", "Message": …}`` body), which botocore maps back to the
same exception name. The constructors below hold AWS's own messages so that every caller says the
same thing for the same failure.
"""

from __future__ import annotations

from lamina.runtime import error_types, protocol

# HTTP status per exception, from botocore's Lambda service model.
STATUS: dict[str, int] = {
    error_types.RESOURCE_NOT_FOUND: 404,
    error_types.RESOURCE_CONFLICT: 409,
    error_types.INVALID_PARAMETER_VALUE: 400,
    error_types.INVALID_REQUEST_CONTENT: 400,
    error_types.VALIDATION: 400,
    error_types.PRECONDITION_FAILED: 412,
    error_types.REQUEST_ENTITY_TOO_LARGE: 413,
    error_types.CODE_STORAGE_EXCEEDED: 400,
    error_types.SERVICE: 500,
}


class ServiceError(Exception):
    """A Lambda service exception: its AWS name, HTTP status and message."""

    def __init__(self, error_type: str, message: str) -> None:
        super().__init__(message)
        self.error_type = error_type
        self.message = message
        self.status = STATUS.get(error_type, 400)

    def body(self) -> dict[str, str]:
        return {"Type": "Server" if self.status >= 500 else "User", "Message": self.message}


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError(error_types.INVALID_PARAMETER_VALUE, message)


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
    return ServiceError(error_types.REQUEST_ENTITY_TOO_LARGE,
                        f"Request must be smaller than {protocol.MAX_DIRECT_UPLOAD_REQUEST} bytes "
                        f"for the {operation} operation")


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
    return ServiceError(error_types.INVALID_REQUEST_CONTENT,
                        f"Could not parse request body into json: {detail}")
