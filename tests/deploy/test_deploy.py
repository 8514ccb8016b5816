"""``lamina deploy`` against moto's Lambda and IAM and against lamina's own control plane."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import boto3
import pytest
from click.testing import CliRunner, Result

from lamina.cli.deploy import deploy

from .conftest import ROLE, ControlPlaneServer

HANDLER = "def handler(event, context):\n    return {'greeting': %r}\n"


def write_function(directory: Path, greeting: str = "hello") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "app.py").write_text(HANDLER % greeting)
    return directory


def run_deploy(*args: str) -> Result:
    result = CliRunner().invoke(deploy, list(args), catch_exceptions=False)
    return result


def lambda_client(endpoint: str) -> Any:
    return boto3.client("lambda", endpoint_url=endpoint, region_name="us-east-1")


@pytest.fixture
def moto_with_policies(monkeypatch: pytest.MonkeyPatch, moto_server_factory: Any) -> str:
    # AWS has AWSLambdaBasicExecutionRole; moto loads AWS's managed policies only when asked
    monkeypatch.setenv("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
    return str(moto_server_factory())


def test_deploy_creates_then_uploads_nothing_then_updates_on_moto(moto_with_policies: str, tmp_path: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code = write_function(tmp_path / "hello")
    args = ["hello", "--code", str(code), "--handler", "app.handler", "--endpoint-url", moto_with_policies,
            "--create-role"]
    client = lambda_client(moto_with_policies)

    first = run_deploy(*args)
    assert first.exit_code == 0, first.output
    assert first.stdout.strip() == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    created = client.get_function(FunctionName="hello")["Configuration"]
    assert created["Role"] == "arn:aws:iam::123456789012:role/hello-lamina-role"
    assert created["Runtime"] == "provided.al2023"
    assert [layer["Arn"].split(":")[-2:] for layer in created["Layers"]] == [["lamina-runtime", "1"]]
    iam = boto3.client("iam", endpoint_url=moto_with_policies, region_name="us-east-1")
    attached = iam.list_attached_role_policies(RoleName="hello-lamina-role")["AttachedPolicies"]
    assert [policy["PolicyName"] for policy in attached] == ["AWSLambdaBasicExecutionRole"]

    second = run_deploy(*args)
    assert second.exit_code == 0, second.output
    assert "nothing uploaded" in second.stderr and "layer lamina-runtime unchanged" in second.stderr
    unchanged = client.get_function(FunctionName="hello")["Configuration"]
    assert (unchanged["LastModified"], unchanged["CodeSha256"]) == (created["LastModified"],
                                                                    created["CodeSha256"])
    assert len(client.list_layer_versions(LayerName="lamina-runtime")["LayerVersions"]) == 1

    write_function(code, "bonjour")
    third = run_deploy(*args, "--memory", "256", "--env", "STAGE=test")
    assert third.exit_code == 0, third.output
    updated = client.get_function(FunctionName="hello")["Configuration"]
    assert updated["CodeSha256"] != created["CodeSha256"]
    assert (updated["MemorySize"], updated["Environment"]["Variables"]) == (256, {"STAGE": "test"})
    assert "uploading code" in third.stderr and "updating configuration" in third.stderr


def test_deploy_reads_defaults_from_pyproject(moto_with_policies: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_function(tmp_path / "src" / "hello")
    (tmp_path / "pyproject.toml").write_text(f"""
[tool.lamina.functions.hello]
code = "src/hello"
handler = "app.handler"
runtime = "python3.12"
memory = 512
timeout = 10
env = {{ STAGE = "prod" }}
concurrency = 2   # a lamina serve key: deploy leaves it alone
create_role = true
endpoint_url = "{moto_with_policies}"
""")
    result = run_deploy()
    assert result.exit_code == 0, result.output
    configuration = lambda_client(moto_with_policies).get_function_configuration(FunctionName="hello")
    assert (configuration["Runtime"], configuration["Handler"]) == ("python3.12", "app.handler")
    assert (configuration["MemorySize"], configuration["Timeout"]) == (512, 10)
    assert configuration["Environment"]["Variables"] == {"STAGE": "prod"}
    assert not configuration.get("Layers"), "a python3.x function without --with-layer gets no layer"


def test_deploy_that_fails_on_configuration_rolls_back_the_code(control_plane: ControlPlaneServer,
                                                                tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    args = ["hello", "--code", str(code), "--handler", "app.handler", "--endpoint-url", control_plane.url,
            "--role", ROLE, "--runtime", "python3.12"]
    assert run_deploy(*args).exit_code == 0
    client = control_plane.client()
    before = client.get_function_configuration(FunctionName="hello")

    write_function(code, "changed")
    failed = run_deploy(*args, "--env", "AWS_REGION=eu-west-1")  # reserved: Lambda refuses it
    assert failed.exit_code == 1
    assert "InvalidParameterValueException" in failed.output
    assert "rolled back: the previous version" in failed.output
    after = client.get_function_configuration(FunctionName="hello")
    assert after["CodeSha256"] == before["CodeSha256"]
    assert after.get("Environment") == before.get("Environment")


def test_deploy_with_a_broken_zip_says_the_previous_version_still_runs(control_plane: ControlPlaneServer,
                                                                      tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    common = ["hello", "--handler", "app.handler", "--endpoint-url", control_plane.url,
              "--runtime", "python3.12"]
    assert run_deploy(*common, "--code", str(code)).exit_code == 0
    before = control_plane.client().get_function_configuration(FunctionName="hello")
    broken = tmp_path / "broken.zip"
    broken.write_bytes(b"PK\x03\x04 definitely not a zip")
    failed = run_deploy(*common, "--zip", str(broken))
    assert failed.exit_code == 1
    assert "InvalidParameterValueException" in failed.output
    assert f"the previous version (CodeSha256 {before['CodeSha256']}) is still running" in failed.output
    assert "Traceback" not in failed.output


def test_deploy_without_a_role_on_aws_asks_for_one(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                   moto_with_policies: str) -> None:
    code = write_function(tmp_path / "hello")
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--runtime",
                        "python3.12", "--endpoint-url", moto_with_policies, "--role", "")
    assert result.exit_code == 1
    assert "--role ARN or --create-role" in result.output


def test_layer_directories_are_published_once_and_attached_in_order(control_plane: ControlPlaneServer,
                                                                     tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    common_layer = tmp_path / "common"
    (common_layer / "python").mkdir(parents=True)
    (common_layer / "python" / "shared.py").write_text("VALUE = 1\n")
    args = ["hello", "--code", str(code), "--handler", "app.handler", "--runtime", "python3.12",
            "--endpoint-url", control_plane.url, "--layer", str(common_layer)]
    assert run_deploy(*args).exit_code == 0
    again = run_deploy(*args)
    assert again.exit_code == 0 and "layer common unchanged (version 1)" in again.stderr
    layers = control_plane.client().get_function_configuration(FunctionName="hello")["Layers"]
    assert [layer["Arn"].rsplit(":", 2)[-2:] for layer in layers] == [["common", "1"]]


def test_provided_function_with_its_own_bootstrap_gets_no_runtime_layer(control_plane: ControlPlaneServer,
                                                                         tmp_path: Path) -> None:
    code = write_function(tmp_path / "hello")
    (code / "bootstrap").write_text("#!/bin/sh\nexec python3 -m lamina.runtime \"$_HANDLER\"\n")
    (code / "bootstrap").chmod(0o755)
    result = run_deploy("hello", "--code", str(code), "--handler", "app.handler", "--endpoint-url",
                        control_plane.url)
    assert result.exit_code == 0, result.output
    configuration = control_plane.client().get_function_configuration(FunctionName="hello")
    assert configuration["Runtime"] == "provided.al2023" and "Layers" not in configuration


def test_deploy_accepts_every_key_lamina_serve_reads_and_leaves_the_serve_only_ones(
        control_plane: ControlPlaneServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    write_function(tmp_path / "api")
    (tmp_path / "lamina.toml").write_text(f"""
[functions.api]
code = "api"
handler = "app.handler"
runtime = "python3.12"
memory = 256
routes = ["GET /items/{{id}}"]   # the HTTP front of lamina serve
payload_format = "2.0"
snap_start = true                # SnapStart, served locally
max_concurrency = 4              # Lambda Managed Instances, served locally
maximum_retry_attempts = 1       # the local Event path
endpoint_url = "{control_plane.url}"
""")
    result = run_deploy()
    assert result.exit_code == 0, result.output
    configuration = control_plane.client().get_function_configuration(FunctionName="api")
    assert (configuration["Handler"], configuration["MemorySize"]) == ("app.handler", 256)


def test_deploy_refuses_a_key_no_command_reads_as_lamina_serve_does(tmp_path: Path,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "lamina.toml").write_text('[functions.api]\nhandler = "app.handler"\nmemroy = 256\n')
    result = run_deploy()
    assert result.exit_code == 2
    assert "function api: unknown keys ['memroy']" in result.output and "Traceback" not in result.output
