"""Code given as an S3 object (``S3Bucket``/``S3Key``/``S3ObjectVersion``), fetched with boto3.

``lamina serve --s3-endpoint-url URL`` points this at any S3-compatible endpoint (AWS itself, MinIO,
moto's server), so ``cdk deploy``- and Terraform-style uploads work. S3's refusals become Lambda's
answer, ``InvalidParameterValueException: Error occurred while GetObject. S3 Error Code: … S3 Error
Message: …``; an object over the zipped size limit is refused before it is read.
"""

from __future__ import annotations

from typing import Any, Optional

from lamina.local.model import service_errors as errors
from lamina.runtime import protocol


class S3CodeSource:
    """A :data:`~lamina.local.api.control_plane.service.CodeSource` on one S3 endpoint."""

    def __init__(self, endpoint_url: str, limit: int = protocol.MAX_UNZIPPED_CODE) -> None:
        self.endpoint_url = endpoint_url
        self.limit = limit
        self._client: Any = None

    def _s3(self) -> Any:
        if self._client is None:
            import boto3  # only a server given --s3-endpoint-url pays for it

            self._client = boto3.client("s3", endpoint_url=self.endpoint_url)
        return self._client

    def __call__(self, bucket: str, key: str, version: Optional[str]) -> bytes:
        from botocore.exceptions import BotoCoreError, ClientError

        arguments = {"Bucket": bucket, "Key": key, **({"VersionId": version} if version else {})}
        try:
            response = self._s3().get_object(**arguments)
            if int(response.get("ContentLength") or 0) > self.limit:
                raise errors.unzipped_too_large()
            return bytes(response["Body"].read())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            raise errors.invalid_parameter(
                f"Error occurred while GetObject. S3 Error Code: {error.get('Code')}. "
                f"S3 Error Message: {error.get('Message')}") from None
        except BotoCoreError as exc:
            message = f"Error occurred while GetObject. S3 Error Message: {exc}"
            raise errors.invalid_parameter(message) from None
