"""Names and limits of the Lambda Runtime API, defined once.

The runtime (inside the execution environment) and the tooling (the local Lambda, the Invoke API)
both import these, so the two sides can never disagree on a header name, a path or a limit.
Standard library only: this module is imported on the runtime's cold-start path.
"""

API_VERSION = "2018-06-01"

# Runtime API paths (relative to http://$AWS_LAMBDA_RUNTIME_API).
PATH_NEXT = "/2018-06-01/runtime/invocation/next"
PATH_RESPONSE = "/2018-06-01/runtime/invocation/{request_id}/response"
PATH_ERROR = "/2018-06-01/runtime/invocation/{request_id}/error"
PATH_INIT_ERROR = "/2018-06-01/runtime/init/error"
PATH_RESTORE_NEXT = "/2018-06-01/runtime/restore/next"
PATH_RESTORE_ERROR = "/2018-06-01/runtime/restore/error"

# Headers on GET .../invocation/next.
HEADER_REQUEST_ID = "Lambda-Runtime-Aws-Request-Id"
HEADER_DEADLINE_MS = "Lambda-Runtime-Deadline-Ms"
HEADER_FUNCTION_ARN = "Lambda-Runtime-Invoked-Function-Arn"
HEADER_TRACE_ID = "Lambda-Runtime-Trace-Id"
HEADER_CLIENT_CONTEXT = "Lambda-Runtime-Client-Context"
HEADER_COGNITO_IDENTITY = "Lambda-Runtime-Cognito-Identity"
HEADER_TENANT_ID = "Lambda-Runtime-Aws-Tenant-Id"
HEADER_INVOCATION_ID = "Lambda-Runtime-Invocation-Id"

# Headers the runtime sends.
HEADER_ERROR_TYPE = "Lambda-Runtime-Function-Error-Type"
HEADER_ERROR_BODY = "Lambda-Runtime-Function-Error-Body"
HEADER_XRAY_ERROR_CAUSE = "Lambda-Runtime-Function-XRay-Error-Cause"
HEADER_RESPONSE_MODE = "Lambda-Runtime-Function-Response-Mode"
RESPONSE_MODE_STREAMING = "streaming"

# Content types with a meaning on the Runtime API.
CONTENT_TYPE_JSON = "application/json"
CONTENT_TYPE_BINARY = "application/unknown"
CONTENT_TYPE_HTTP_INTEGRATION = "application/vnd.awslambda.http-integration-response"
CONTENT_TYPE_ERROR_CAUSE = "application/vnd.aws.lambda.error.cause+json"
HTTP_INTEGRATION_DELIMITER = b"\x00" * 8

# Limits (bytes).
MAX_SYNC_REQUEST = 6291456  # Invoke API RequestResponse payload
MAX_SYNC_RESPONSE = 6291556  # Runtime API /response body (6 MiB + 100)
MAX_ASYNC_REQUEST = 1048576  # Invoke API Event payload
MAX_STREAMED_RESPONSE = 200 * 1024 * 1024
MAX_XRAY_CAUSE = 1024 * 1024  # awslambdaric drops the X-Ray cause at this size

# Exit codes the runtime uses for SnapStart hook failures (as awslambdaric does).
EXIT_BEFORE_SNAPSHOT_ERROR = 64
EXIT_AFTER_RESTORE_ERROR = 65

# Deployment package limits (bytes), as Lambda enforces them on CreateFunction/UpdateFunctionCode.
MAX_ZIPPED_DIRECT_UPLOAD = 52428800  # 50 MB zip in the request
MAX_DIRECT_UPLOAD_REQUEST = 70167211  # the JSON request carrying a base64 50 MB zip
MAX_UNZIPPED_CODE = 262144000  # function plus all its layers, unzipped
MAX_LAYERS_PER_FUNCTION = 5
MAX_CODE_STORAGE = 75 * 1024**3  # the regional code storage quota

# Lambda's fixed limits for execution environments.
INIT_TIMEOUT_SECONDS = 10.0  # the init phase of an on-demand environment
MAX_LOG_TAIL = 4096  # bytes of the log returned in X-Amz-Log-Result
MAX_CLIENT_CONTEXT = 3583  # bytes of the base64 X-Amz-Client-Context header
