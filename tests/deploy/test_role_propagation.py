"""A role created moments before CreateFunction: IAM is eventually consistent, so deploy waits for it."""

from __future__ import annotations

import boto3
import pytest
from botocore.stub import ANY, Stubber

from lamina.deploy import deployer
from lamina.deploy.deployer import Deployer, FunctionSpec
from lamina.deploy.errors import DeployError

from .conftest import ROLE

NOT_YET = "The role defined for the function cannot be assumed by Lambda."
CONFIGURATION = {"FunctionName": "hello",
                 "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:hello",
                 "State": "Active", "LastUpdateStatus": "Successful"}


def spec() -> FunctionSpec:
    return FunctionSpec(name="hello", zip_bytes=b"PK", handler="app.handler", runtime="python3.12", role=ROLE)


def test_create_retries_while_the_new_role_cannot_be_assumed_yet(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployer, "ROLE_PROPAGATION_DELAY", 0)
    client = boto3.client("lambda", region_name="us-east-1")
    notes: list[str] = []
    with Stubber(client) as stub:
        stub.add_client_error("get_function", "ResourceNotFoundException", http_status_code=404)
        for _ in range(2):
            stub.add_client_error("create_function", "InvalidParameterValueException", NOT_YET, 400,
                                  expected_params={"FunctionName": "hello", "Role": ROLE, "Code": ANY,
                                                   "Architectures": ANY, "PackageType": "Zip", "Handler": ANY,
                                                   "Runtime": ANY, "MemorySize": ANY, "Timeout": ANY,
                                                   "Environment": ANY, "Layers": ANY})
        stub.add_response("create_function", CONFIGURATION)
        stub.add_response("get_function", {"Configuration": CONFIGURATION})
        outcome = Deployer(client, notes.append).deploy(spec())
        stub.assert_no_pending_responses()
    assert outcome.created and outcome.arn == CONFIGURATION["FunctionArn"]
    assert "waiting for the execution role to reach Lambda" in notes


def test_other_create_errors_are_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(deployer, "ROLE_PROPAGATION_DELAY", 0)
    client = boto3.client("lambda", region_name="us-east-1")
    with Stubber(client) as stub:
        stub.add_client_error("get_function", "ResourceNotFoundException", http_status_code=404)
        stub.add_client_error("create_function", "InvalidParameterValueException", "Unzipped size must be "
                              "smaller than 262144000 bytes", 400)
        with pytest.raises(DeployError, match="Unzipped size must be smaller"):
            Deployer(client).deploy(spec())
        stub.assert_no_pending_responses()
