"""Lambda's service exceptions: AWS's exception names, HTTP statuses and messages, defined once.

Every part of the local Lambda that refuses a request (the Invoke API, the control plane, the HTTP
front, the Event queue) raises :class:`ServiceError` built by one of the constructors below, so the
same failure always carries AWS's own words. botocore reads the exception name from
``X-Amzn-ErrorType`` and the message from ``Message`` or ``message``, so a boto3 user gets the exception
AWS would raise. The wire rendering lives with the HTTP servers (:mod:`lamina.local.api.responses`);
this module is pure.
"""

from __future__ import annotations

from typing import Mapping, Optional

from lamina.runtime import error_types, protocol

STATUS: dict[str, int] = {
    error_types.RESOURCE_NOT_FOUND: 404,
    error_types.RESOURCE_CONFLICT: 409,
    error_types.INVALID_PARAMETER_VALUE: 400,
    error_types.INVALID_REQUEST_CONTENT: 400,
    error_types.VALIDATION: 400,
    error_types.PRECONDITION_FAILED: 412,
    error_types.REQUEST_ENTITY_TOO_LARGE: 413,
    error_types.TOO_MANY_REQUESTS: 429,
    error_types.SERVICE: 500,
}
SNAPSTART_EXCEPTION = "SnapStartException"
# Refusals before any operation runs: who may call (AWS's request authentication, lamina's origin and
# host checks). Only the local Lambda's HTTP APIs raise them, so they are named here, not in the runtime.
ACCESS_DENIED = "AccessDeniedException"
MISSING_AUTHENTICATION_TOKEN = "MissingAuthenticationTokenException"
INCOMPLETE_SIGNATURE = "IncompleteSignatureException"
INVALID_SIGNATURE = "InvalidSignatureException"
UNRECOGNIZED_CLIENT = "UnrecognizedClientException"
ENVIRONMENT_LIMIT = 4096  # bytes of Environment.Variables as JSON (Lambda's 4 KB quota)
# Exceptions whose botocore shape names the member ``message`` (lowercase): AWS writes it so.
LOWERCASE_MESSAGE = frozenset([
    error_types.INVALID_PARAMETER_VALUE, error_types.INVALID_REQUEST_CONTENT, error_types.RESOURCE_CONFLICT,
    error_types.PRECONDITION_FAILED, error_types.TOO_MANY_REQUESTS, error_types.CODE_STORAGE_EXCEEDED,
    "RequestTooLargeException", "UnsupportedMediaTypeException", "ResourceNotReadyException",
    "PolicyLengthExceededException", "ProvisionedConcurrencyConfigNotFoundException",
    "AliasLimitExceededException",
])


class ServiceError(Exception):
    """A Lambda service exception with AWS's name, HTTP status and message."""

    def __init__(self, error_type: str, message: str, *, status: Optional[int] = None,
                 extra: Optional[Mapping[str, str]] = None,
                 headers: Optional[Mapping[str, str]] = None) -> None:
        super().__init__(f"{error_type}: {message}")
        self.error_type = error_type
        self.message = message
        self.status = status or STATUS.get(error_type, 400)
        self.extra = dict(extra or {})
        self.headers = dict(headers or {})

    def body(self) -> dict[str, str]:
        key = "message" if self.error_type in LOWERCASE_MESSAGE else "Message"
        return {**self.extra, "Type": "Server" if self.status >= 500 else "User", key: self.message}


# --- the Invoke API's ------------------------------------------------------------------------------


def too_many_requests(reserved: bool) -> ServiceError:
    reason = ("ReservedFunctionConcurrentInvocationLimitExceeded" if reserved
              else "ConcurrentInvocationLimitExceeded")
    return ServiceError(error_types.TOO_MANY_REQUESTS, "Rate Exceeded.", extra={"Reason": reason},
                        headers={"Retry-After": "1"})


def request_too_large(limit: int, operation: str) -> ServiceError:
    return ServiceError(error_types.REQUEST_ENTITY_TOO_LARGE,
                        f"Request must be smaller than {limit} bytes for the {operation} operation")


def invalid_json(detail: str) -> ServiceError:
    message = f"Could not parse request body into json: Could not parse payload into json: {detail}"
    return ServiceError(error_types.INVALID_REQUEST_CONTENT, message)


def invalid_parameter(message: str) -> ServiceError:
    return ServiceError(error_types.INVALID_PARAMETER_VALUE, message)


def validation(value: object, member: str, constraint: str) -> ServiceError:
    return ServiceError(error_types.VALIDATION,
                        f"1 validation error detected: Value '{value}' at '{member}' failed to satisfy "
                        f"constraint: {constraint}")


def json_too_deep(depth: int, limit: int) -> ServiceError:
    """A JSON body nested ``depth`` levels, over Lambda's (Jackson's) ``limit``."""
    if depth > limit:
        return invalid_json(f"Document nesting depth ({depth}) exceeds the maximum allowed ({limit}, "
                            "from `StreamReadConstraints.getMaxNestingDepth()`)")
    # Python's parser ran out of stack a few levels short of Lambda's bound
    return invalid_json(f"Document nesting depth ({depth}) is too deep to parse")


def snapstart_restore_failed(message: str) -> ServiceError:
    """What Invoke answers when the after-restore hooks failed (``message``: the hook's own)."""
    return ServiceError(SNAPSTART_EXCEPTION,
                        "The afterRestore() runtime hook encountered an error "
                        f"({error_types.AFTER_RESTORE_ERROR}: {message}). "
                        "For more information, check the Amazon CloudWatch logs.", status=400)


# --- who may call: authentication, origin, host -------------------------------------------------


def access_denied(message: str) -> ServiceError:
    return ServiceError(ACCESS_DENIED, message, status=403)


def missing_authentication_token() -> ServiceError:
    return ServiceError(MISSING_AUTHENTICATION_TOKEN, "Missing Authentication Token", status=403)


def incomplete_signature(missing: list[str], authorization: str) -> ServiceError:
    """``missing``: AWS's sentences for each absent part (``Authorization header requires …``)."""
    return ServiceError(INCOMPLETE_SIGNATURE, " ".join([*missing, f"Authorization={authorization}"]),
                        status=403)


def invalid_signature() -> ServiceError:
    return ServiceError(INVALID_SIGNATURE,
                        "The request signature we calculated does not match the signature you provided. "
                        "Check your AWS Secret Access Key and signing method. Consult the service "
                        "documentation for details.", status=403)


def signature_expired(signed: str, earliest: str, now: str) -> ServiceError:
    return ServiceError(INVALID_SIGNATURE,
                        f"Signature expired: {signed} is now earlier than {earliest} ({now} - 15 min.)",
                        status=403)


def unrecognized_client() -> ServiceError:
    return ServiceError(UNRECOGNIZED_CLIENT, "The security token included in the request is invalid.",
                        status=403)


# --- the control plane's ---------------------------------------------------------------------------


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


def upload_too_large(operation: str) -> ServiceError:
    return request_too_large(protocol.MAX_DIRECT_UPLOAD_REQUEST, operation)


def unzipped_too_large() -> ServiceError:
    return invalid_parameter(f"Unzipped size must be smaller than {protocol.MAX_UNZIPPED_CODE} bytes")


def combined_too_large(actual: int) -> ServiceError:
    return invalid_parameter("Function code combined with layers exceeds the maximum allowed size of "
                             f"{protocol.MAX_UNZIPPED_CODE} bytes. The actual size is {actual} bytes.")


def code_storage_exceeded() -> ServiceError:
    return ServiceError(error_types.CODE_STORAGE_EXCEEDED, "Code storage limit exceeded.")


def environment_too_large(measured: str) -> ServiceError:
    """``measured``: the variables as Lambda measures them (compact JSON), which AWS quotes back."""
    return invalid_parameter("Lambda was unable to configure your environment variables because the "
                             "environment variables you have provided exceeded the 4KB limit. "
                             f"String measured: {measured}")


def bad_zip() -> ServiceError:
    """AWS's words exactly (tools match on them); the reason lamina found is logged where it is found."""
    return invalid_parameter("Could not unzip uploaded file. Please check your file, then try to upload "
                             "again.")


def zipped_too_large() -> ServiceError:
    return ServiceError(error_types.REQUEST_ENTITY_TOO_LARGE,
                        f"Zipped size must be smaller than {protocol.MAX_ZIPPED_DIRECT_UPLOAD} bytes")


def not_reachable(from_region: str, region: str) -> ServiceError:
    return ServiceError(error_types.RESOURCE_NOT_FOUND,
                        f"Functions from '{from_region}' are not reachable in this region ('{region}')")


def not_authorized(account: str, action: str, resource: str) -> ServiceError:
    return access_denied(f"User: arn:aws:iam::{account}:root is not authorized to perform: lambda:{action} "
                         f"on resource: {resource} because no resource-based policy allows the "
                         f"lambda:{action} action")


def resource_not_found(message: str = "The resource you requested does not exist.") -> ServiceError:
    return ServiceError(error_types.RESOURCE_NOT_FOUND, message)


def conflict(message: str) -> ServiceError:
    return ServiceError(error_types.RESOURCE_CONFLICT, message)


def not_implemented(operation: str, read: bool) -> ServiceError:
    """An operation of Lambda's API the local Lambda does not run: a read finds nothing (so tools that
    treat "not found" as "absent" go on), a write is refused as an invalid request."""
    message = f"lamina's local Lambda does not implement {operation}"
    if read:
        return ServiceError(error_types.RESOURCE_NOT_FOUND, f"{message}: the resource does not exist.")
    return invalid_parameter(f"{message}.")
