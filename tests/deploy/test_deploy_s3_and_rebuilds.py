"""``lamina deploy`` past the direct-upload quota (through moto's S3), without rebuilding unchanged inputs,
and refusing what would fail on Lambda: no bootstrap, a role that cannot be assumed."""

from __future__ import annotations

import os
import zipfile
from pathlib import Path
from typing import Any

import boto3
import pytest

from lamina.artifacts.limits import ZIPPED_LIMIT, MiB

from .test_deploy import lambda_client, run_deploy, write_function


@pytest.fixture(autouse=True)
def build_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("LAMINA_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


ROLE = "arn:aws:iam::123456789012:role/r"


@pytest.fixture
def moto(moto_server_factory: Any) -> str:
    """moto's server with the execution role ``r`` in its IAM (moto checks that the role exists)."""
    endpoint = str(moto_server_factory())
    boto3.client("iam", endpoint_url=endpoint, region_name="us-east-1").create_role(
        RoleName="r", AssumeRolePolicyDocument="{}")
    return endpoint


def s3_client(endpoint: str) -> Any:
    return boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1")


def test_zip_over_50_mib_is_deployed_through_s3_and_not_uploaded_again(moto: str, tmp_path: Path) -> None:
    code = write_function(tmp_path / "big")
    (code / "model.bin").write_bytes(os.urandom(ZIPPED_LIMIT + MiB))  # incompressible: the zip is over 50 MiB
    s3_client(moto).create_bucket(Bucket="artifacts")
    args = ["big", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
            "--endpoint-url", moto, "--role", ROLE, "--no-bytecode"]

    direct = run_deploy(*args)
    assert direct.exit_code == 1
    assert "over Lambda's 50.0 MiB limit for direct upload" in direct.output
    assert "--s3-bucket" in direct.output and "lamina layer build --requirements" in direct.output

    first = run_deploy(*args, "--s3-bucket", "artifacts")
    assert first.exit_code == 0, first.output
    keys = [item["Key"] for item in s3_client(moto).list_objects_v2(Bucket="artifacts")["Contents"]]
    assert len(keys) == 1 and keys[0].startswith("lamina/big/")
    configuration = lambda_client(moto).get_function_configuration(FunctionName="big")
    assert configuration["CodeSize"] > ZIPPED_LIMIT

    again = run_deploy(*args, "--s3-bucket", "artifacts")
    assert again.exit_code == 0, again.output
    assert "inputs unchanged" in again.stderr and "nothing uploaded" in again.stderr
    assert "uploading" not in again.stderr


def test_missing_bucket_is_one_line_before_anything_changes(moto: str, tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
                        "--endpoint-url", moto, "--role", ROLE,
                        "--s3-bucket", "no-such-bucket")
    assert result.exit_code == 1
    assert "S3 bucket no-such-bucket does not exist" in result.output and "Traceback" not in result.output
    assert lambda_client(moto).list_functions()["Functions"] == []


def test_second_deploy_of_unchanged_inputs_builds_nothing(moto: str, tmp_path: Path,
                                                          build_cache: Path) -> None:
    code = write_function(tmp_path / "hello")
    (code / "requirements.txt").write_text("six==1.17.0\n")
    args = ["hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
            "--endpoint-url", moto, "--role", ROLE]
    assert run_deploy(*args).exit_code == 0
    built = sorted(build_cache.glob("builds/*.zip"))
    again = run_deploy(*args)
    assert again.exit_code == 0, again.output
    assert "inputs unchanged" in again.stderr
    assert sorted(build_cache.glob("builds/*.zip")) == built

    (code / "requirements.txt").write_text("six==1.16.0\n")  # a changed input: built again
    changed = run_deploy(*args)
    assert changed.exit_code == 0 and "inputs unchanged" not in changed.stderr
    assert "uploading code" in changed.stderr


def test_provided_function_with_no_bootstrap_anywhere_is_refused(moto: str, tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    deps = tmp_path / "deps"
    (deps / "python").mkdir(parents=True)
    (deps / "python" / "helper.py").write_text("X = 1\n")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--endpoint-url", moto,
                        "--role", ROLE, "--layer", str(deps), "--no-layer")
    assert result.exit_code == 1
    assert "none would be there" in result.output and "exit 127" in result.output
    assert lambda_client(moto).list_functions()["Functions"] == []


def test_no_role_on_moto_fails_at_once_with_the_role_hint(moto: str, tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    from lamina.deploy import deployer

    monkeypatch.setattr(deployer, "ROLE_PROPAGATION_DELAY", 60)  # a retry would hang the test: none is made
    code = write_function(tmp_path / "hello")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
                        "--endpoint-url", moto)
    assert result.exit_code == 1
    assert "cannot assume the role" in result.output and "--role ARN" in result.output
    assert "--create-role" in result.output


def test_create_role_works_on_moto_without_aws_managed_policies(moto: str, tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
                        "--endpoint-url", moto, "--create-role")
    assert result.exit_code == 0, result.output
    iam = boto3.client("iam", endpoint_url=moto, region_name="us-east-1")
    assert iam.list_role_policies(RoleName="hello-lamina-role")["PolicyNames"] == ["lamina-basic-execution"]


def test_dependency_layer_zip_is_published_and_attached(moto: str, tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    layer = tmp_path / "deps.zip"
    with zipfile.ZipFile(layer, "w") as archive:
        archive.writestr("python/helper.py", "X = 1\n")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
                        "--endpoint-url", moto, "--role", ROLE,
                        "--layer", str(layer))
    assert result.exit_code == 0, result.output
    layers = lambda_client(moto).get_function_configuration(FunctionName="hello")["Layers"]
    assert [item["Arn"].rsplit(":", 2)[-2:] for item in layers] == [["deps", "1"]]
