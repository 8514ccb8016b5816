"""Zips that go to Lambda through S3: past the 50 MiB of a direct upload, up to the 250 MiB unzipped.

Each zip is put once under a key named by its content (``lamina/NAME/<sha256>.zip``), so a deploy that
changes nothing uploads nothing and an object already there is not sent again. The bucket must be in
the function's region (Lambda reads it from there).
"""

from __future__ import annotations

import hashlib
import io
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lamina.artifacts.limits import megabytes
from lamina.deploy.deployer import CodeUpload, Notify, aws_error
from lamina.deploy.errors import DeployError
from lamina.deploy.upload import Advance

__all__ = ["S3Uploads", "object_key"]


def object_key(name: str, zip_bytes: bytes) -> str:
    return f"lamina/{name}/{hashlib.sha256(zip_bytes).hexdigest()}.zip"


class S3Uploads:
    """Puts zips in one bucket and answers Lambda's ``S3Bucket``/``S3Key`` fields for them."""

    def __init__(self, s3: Any, bucket: str, notify: Notify, advance: Advance) -> None:
        self.s3 = s3
        self.bucket = bucket
        self.notify = notify
        self.advance = advance

    def check_bucket(self) -> None:
        """Fail before anything changes when the bucket cannot be written to."""
        try:
            self.s3.head_bucket(Bucket=self.bucket)
        except ClientError as exc:
            code = str(exc.response.get("Error", {}).get("Code", ""))
            missing = code in ("404", "NoSuchBucket")
            reason = "does not exist" if missing else f"cannot be used ({aws_error(exc)})"
            raise DeployError(f"S3 bucket {self.bucket} {reason}: create it in the function's region "
                              f"(aws s3 mb s3://{self.bucket}) or pass another --s3-bucket; nothing was "
                              "changed") from None
        except BotoCoreError as exc:
            raise DeployError(f"cannot reach S3 ({exc}); nothing was changed") from None

    def for_name(self, name: str) -> CodeUpload:
        """The :data:`CodeUpload` of zips belonging to ``name`` (a function or a layer)."""
        return lambda zip_bytes: self.put(name, zip_bytes)

    def put(self, name: str, zip_bytes: bytes) -> dict[str, str]:
        key = object_key(name, zip_bytes)
        if not self._exists(key, len(zip_bytes)):
            self.notify(f"uploading {megabytes(len(zip_bytes))} to s3://{self.bucket}/{key}")
            sent = 0

            def progress(count: int) -> None:
                nonlocal sent
                sent += count
                self.advance(sent, len(zip_bytes))

            try:
                self.s3.upload_fileobj(io.BytesIO(zip_bytes), self.bucket, key, Callback=progress)
            except (ClientError, BotoCoreError) as exc:
                raise DeployError(f"uploading to s3://{self.bucket}/{key} failed ({aws_error(exc)}); "
                                  "nothing was changed: the previous version is still running") from None
        else:
            self.notify(f"s3://{self.bucket}/{key} is there already")
        return {"S3Bucket": self.bucket, "S3Key": key}

    def _exists(self, key: str, size: int) -> bool:
        try:
            head = self.s3.head_object(Bucket=self.bucket, Key=key)
        except ClientError:
            return False
        return int(head.get("ContentLength", -1)) == size
