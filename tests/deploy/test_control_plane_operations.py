"""The operations tools call beyond create/update/get, answered as Lambda answers them (issue 15)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from lamina.local.api.control_plane.routes import IMPLEMENTED, lambda_operations

from .conftest import ControlPlaneServer
from .test_control_plane import APP, create, error_of, publish
from .zips import make_zip

ARN = "arn:aws:lambda:us-east-1:123456789012:function:hello"


def test_publish_version_snapshots_and_numbers_and_lists_versions(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    first = client.publish_version(FunctionName="hello", Description="one")
    assert (first["Version"], first["FunctionArn"], first["State"]) == ("1", f"{ARN}:1", "Pending")
    client.get_waiter("published_version_active").wait(FunctionName="hello", Qualifier="1",
                                                       WaiterConfig={"Delay": 1, "MaxAttempts": 2})
    assert client.publish_version(FunctionName="hello")["Version"] == "1", "unchanged: the same version"
    client.update_function_configuration(FunctionName="hello", Timeout=9)
    assert client.publish_version(FunctionName="hello")["Version"] == "2"
    assert client.get_function_configuration(FunctionName="hello", Qualifier="1")["Timeout"] == 3
    listed = client.list_versions_by_function(FunctionName="hello")["Versions"]
    assert [v["Version"] for v in listed] == ["$LATEST", "1", "2"]
    assert all("State" not in v for v in client.list_functions(FunctionVersion="ALL")["Functions"])
    with pytest.raises(ClientError) as caught:
        control_plane.client(validate=False).list_functions(FunctionVersion="SOME")
    assert error_of(caught)[0] == "ValidationException"


def test_publish_true_on_create_and_update_publishes(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    assert create(client, Publish=True)["Version"] == "1"
    updated = client.update_function_code(FunctionName="hello", ZipFile=APP + b"", Publish=True)
    assert updated["Version"] == "1"  # same code and configuration: nothing new to publish


def test_aliases_point_at_versions_with_weights(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client, Publish=True)
    client.update_function_configuration(FunctionName="hello", Timeout=5)
    client.publish_version(FunctionName="hello")
    alias = client.create_alias(FunctionName="hello", Name="live", FunctionVersion="1",
                                RoutingConfig={"AdditionalVersionWeights": {"2": 0.5}})
    assert alias["AliasArn"] == f"{ARN}:live"
    assert client.get_function_configuration(FunctionName="hello", Qualifier="live")["Version"] == "1"
    client.update_alias(FunctionName="hello", Name="live", FunctionVersion="2", RoutingConfig={})
    assert [a["FunctionVersion"] for a in client.list_aliases(FunctionName="hello")["Aliases"]] == ["2"]
    with pytest.raises(ClientError) as caught:
        client.delete_function(FunctionName="hello", Qualifier="2")
    assert error_of(caught)[0] == "ResourceConflictException"
    client.delete_alias(FunctionName="hello", Name="live")
    with pytest.raises(ClientError) as caught:
        client.get_alias(FunctionName="hello", Name="live")
    assert error_of(caught) == ("ResourceNotFoundException", f"Cannot find alias arn: {ARN}:live", 404)


def test_delete_latest_qualifier_is_refused_and_version_delete_keeps_the_function(
        control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client, Publish=True)
    with pytest.raises(ClientError) as caught:
        client.delete_function(FunctionName="hello", Qualifier="$LATEST")
    assert error_of(caught) == ("InvalidParameterValueException",
                                "$LATEST version cannot be deleted without deleting the function.", 400)
    client.delete_function(FunctionName="hello", Qualifier="1")
    assert client.get_function(FunctionName="hello")["Configuration"]["Version"] == "$LATEST"


def test_permissions_render_policy_documents_as_lambda_does(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    added = client.add_permission(FunctionName="hello", StatementId="s3", Action="lambda:InvokeFunction",
                                  Principal="s3.amazonaws.com", SourceArn="arn:aws:s3:::bucket",
                                  SourceAccount="123456789012")
    statement = json.loads(added["Statement"])
    assert statement == {"Sid": "s3", "Effect": "Allow", "Principal": {"Service": "s3.amazonaws.com"},
                         "Action": "lambda:InvokeFunction", "Resource": ARN,
                         "Condition": {"StringEquals": {"AWS:SourceAccount": "123456789012"},
                                       "ArnLike": {"AWS:SourceArn": "arn:aws:s3:::bucket"}}}
    policy = json.loads(client.get_policy(FunctionName="hello")["Policy"])
    assert (policy["Version"], policy["Statement"]) == ("2012-10-17", [statement])
    with pytest.raises(ClientError) as caught:
        client.add_permission(FunctionName="hello", StatementId="s3", Action="lambda:InvokeFunction",
                              Principal="*")
    assert error_of(caught)[0] == "ResourceConflictException"
    client.remove_permission(FunctionName="hello", StatementId="s3")
    with pytest.raises(ClientError) as caught:
        client.get_policy(FunctionName="hello")
    assert error_of(caught)[0] == "ResourceNotFoundException"


def test_tags_concurrency_and_account_settings(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    assert "Tags" not in client.get_function(FunctionName="hello"), "Lambda omits empty tags"
    client.tag_resource(Resource=ARN, Tags={"team": "a", "env": "dev"})
    client.untag_resource(Resource=ARN, TagKeys=["env"])
    assert client.list_tags(Resource=ARN)["Tags"] == {"team": "a"}
    put = client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=5)
    assert put["ReservedConcurrentExecutions"] == 5
    assert client.get_function_concurrency(FunctionName="hello")["ReservedConcurrentExecutions"] == 5
    assert client.get_function(FunctionName="hello")["Concurrency"] == {"ReservedConcurrentExecutions": 5}
    limits = client.get_account_settings()["AccountLimit"]
    assert (limits["ConcurrentExecutions"], limits["UnreservedConcurrentExecutions"]) == (1000, 995)
    with pytest.raises(ClientError) as caught:
        client.put_function_concurrency(FunctionName="hello", ReservedConcurrentExecutions=901)
    assert error_of(caught)[0] == "InvalidParameterValueException"
    client.delete_function_concurrency(FunctionName="hello")
    assert "ReservedConcurrentExecutions" not in client.get_function_concurrency(FunctionName="hello")
    assert client.get_function_code_signing_config(FunctionName="hello")["CodeSigningConfigArn"] == ""
    assert client.get_runtime_management_config(FunctionName="hello")["UpdateRuntimeOn"] == "Auto"


def test_function_url_and_event_invoke_configs(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    url = client.create_function_url_config(FunctionName="hello", AuthType="NONE")
    assert url["FunctionUrl"].startswith("https://") and ".lambda-url.us-east-1." in url["FunctionUrl"]
    with pytest.raises(ClientError) as caught:
        client.create_function_url_config(FunctionName="hello", AuthType="NONE")
    assert error_of(caught)[0] == "ResourceConflictException"
    updated_url = client.update_function_url_config(FunctionName="hello", AuthType="AWS_IAM")
    assert updated_url["AuthType"] == "AWS_IAM"
    assert len(client.list_function_url_configs(FunctionName="hello")["FunctionUrlConfigs"]) == 1
    client.delete_function_url_config(FunctionName="hello")
    with pytest.raises(ClientError) as caught:
        client.get_function_url_config(FunctionName="hello")
    assert error_of(caught)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        client.get_function_event_invoke_config(FunctionName="hello")
    assert error_of(caught)[1] == f"The function {ARN}:$LATEST doesn't have an EventInvokeConfig"
    put = client.put_function_event_invoke_config(FunctionName="hello", MaximumRetryAttempts=0)
    assert (put["MaximumRetryAttempts"], put["MaximumEventAgeInSeconds"]) == (0, 21600)
    updated = client.update_function_event_invoke_config(FunctionName="hello", MaximumEventAgeInSeconds=60)
    assert (updated["MaximumRetryAttempts"], updated["MaximumEventAgeInSeconds"]) == (0, 60)
    listed = client.list_function_event_invoke_configs(FunctionName="hello")
    assert len(listed["FunctionEventInvokeConfigs"]) == 1


def test_validation_differences_answer_as_aws(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client(validate=False)
    with pytest.raises(ClientError) as caught:
        create(client, name="arn:aws:lambda:eu-central-1:123456789012:function:hello")
    assert error_of(caught) == ("ResourceNotFoundException",
                                "Functions from 'eu-central-1' are not reachable in this region "
                                "('us-east-1')", 404)
    with pytest.raises(ClientError) as caught:
        create(client, name="a" * 65)
    assert error_of(caught)[0] == "InvalidParameterValueException"
    with pytest.raises(ClientError) as caught:
        client.get_function(FunctionName="a" * 65)
    assert error_of(caught)[0] == "ResourceNotFoundException"
    with pytest.raises(ClientError) as caught:
        create(client, Architectures=["x86_64", "arm64"])
    assert "Value '[x86_64, arm64]' at 'architectures'" in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        client.create_function(FunctionName="old", Role="arn:aws:iam::123456789012:role/r",
                               Runtime="python3.7",
                               Handler="app.handler", Code={"ZipFile": APP})
    assert "The runtime parameter of python3.7 is no longer supported" in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        create(client, code=b"not a zip")
    assert error_of(caught)[1] == ("Could not unzip uploaded file. Please check your file, then try to "
                                   "upload again.")
    create(client)
    with pytest.raises(ClientError) as caught:
        client.get_function(FunctionName=f"{ARN}:1", Qualifier="2")
    assert error_of(caught)[1] == ("The derived qualifier from the function name does not match the "
                                   "specified qualifier.")
    with pytest.raises(ClientError) as caught:
        client.get_function(FunctionName="arn:aws:lambda:us-east-1:999999999999:function:hello")
    assert error_of(caught)[0] == "AccessDeniedException"
    one, two = (publish(client, "dup", {"a.txt": str(n)}) for n in (1, 2))
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(FunctionName="hello", Layers=[one["LayerVersionArn"],
                                                                          two["LayerVersionArn"]])
    assert "Two different versions of the same layer are not allowed" in error_of(caught)[1]
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(
            FunctionName="hello", Layers=[one["LayerVersionArn"].replace("us-east-1", "eu-west-1")])
    assert error_of(caught)[1] == ("Layers are not in the same region as the function. Layers are expected "
                                   "to be in region us-east-1.")
    assert one["CompatibleRuntimes"] == [] and one["CompatibleArchitectures"] == []


def test_shapes_environment_logging_snapstart_and_runtime_version(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client, Environment={"Variables": {}},
           LoggingConfig={"LogFormat": "JSON", "ApplicationLogLevel": "DEBUG"})
    configuration = client.get_function_configuration(FunctionName="hello")
    assert configuration["Environment"] == {"Variables": {}}
    runtime_version = configuration["RuntimeVersionConfig"]["RuntimeVersionArn"]
    assert runtime_version.startswith("arn:aws:lambda:us-east-1::runtime:")
    updated = client.update_function_configuration(FunctionName="hello", LoggingConfig={"LogFormat": "Text"},
                                                   SnapStart={"ApplyOn": "PublishedVersions"})
    assert updated["LastUpdateStatus"] == "InProgress"
    client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 1,
                                                                                      "MaxAttempts": 2})
    assert "ApplicationLogLevel" not in updated["LoggingConfig"]
    assert updated["SnapStart"] == {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}
    with pytest.raises(ClientError) as caught:
        control_plane.client(validate=False).update_function_configuration(
            FunctionName="hello", SnapStart={"ApplyOn": "Always"})
    assert error_of(caught)[0] == "ValidationException"


def test_every_operation_of_botocores_model_is_implemented_or_answers_an_aws_error(
        control_plane: ControlPlaneServer, capsys: pytest.CaptureFixture[str]) -> None:
    operations = lambda_operations()
    unimplemented = sorted(set(operations) - IMPLEMENTED)
    assert set(operations) >= IMPLEMENTED
    for name in unimplemented:
        http = operations[name]
        path = str(http["requestUri"]).split("?")[0]
        for parameter in ("FunctionName", "LayerName", "VersionNumber", "StatementId", "UUID", "Resource",
                          "CodeSigningConfigArn", "CapacityProviderName", "DurableExecutionArn", "CallbackId",
                          "ResourceArn"):
            path = path.replace("{" + parameter + "}", "1").replace("{" + parameter + "+}", "1")
        body = b"{}" if http["method"] in ("POST", "PUT") else b""
        try:
            urllib.request.urlopen(control_plane.signed(http["method"], path, body), timeout=10)
            raise AssertionError(f"{name} answered success")
        except urllib.error.HTTPError as exc:
            assert exc.headers["X-Amzn-ErrorType"], name
            assert json.loads(exc.read())["Type"] in ("User", "Server"), name
    with capsys.disabled():
        print(f"\nLambda operations: {len(IMPLEMENTED)} implemented, {len(unimplemented)} answer AWS's error")


def test_each_region_has_its_own_layers(control_plane: ControlPlaneServer) -> None:
    east = control_plane.client()
    west = boto3.client("lambda", endpoint_url=control_plane.url, region_name="eu-west-1",
                        config=Config(retries={"max_attempts": 1}))
    content = {"ZipFile": make_zip({"python/shared.py": "X = 1\n"})}
    first_east = east.publish_layer_version(LayerName="shared", Content=content)
    east.publish_layer_version(LayerName="shared", Content=content)
    first_west = west.publish_layer_version(LayerName="shared", Content=content)
    assert first_east["Version"] == 1 and first_west["Version"] == 1  # numbered per region
    assert first_west["LayerVersionArn"] == "arn:aws:lambda:eu-west-1:123456789012:layer:shared:1"
    assert [v["Version"] for v in east.list_layer_versions(LayerName="shared")["LayerVersions"]] == [2, 1]
    assert [v["Version"] for v in west.list_layer_versions(LayerName="shared")["LayerVersions"]] == [1]
    assert [layer["LayerArn"] for layer in west.list_layers()["Layers"]] == [
        "arn:aws:lambda:eu-west-1:123456789012:layer:shared"]
    with pytest.raises(west.exceptions.ResourceNotFoundException):
        west.get_layer_version(LayerName="shared", VersionNumber=2)
    by_arn = east.get_layer_version_by_arn(Arn=first_west["LayerVersionArn"])
    assert by_arn["LayerVersionArn"] == first_west["LayerVersionArn"]
