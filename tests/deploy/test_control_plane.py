"""lamina's control plane answers boto3 as Lambda does: shapes, status codes, exceptions, waiters."""

from __future__ import annotations

import base64
import hashlib
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from lamina.runtime import protocol

from .conftest import ROLE, ControlPlaneServer, running
from .zips import make_zip, zip_bomb

LAYER_ARN = "arn:aws:lambda:us-east-1:123456789012:layer"
APP = make_zip({"app.py": "def handler(event, context):\n    return event\n"})


def create(client: Any, name: str = "hello", code: bytes = APP, **extra: Any) -> dict[str, Any]:
    return dict(client.create_function(FunctionName=name, Role=ROLE, Runtime="python3.12",
                                       Handler="app.handler", Code={"ZipFile": code}, **extra))


def publish(client: Any, name: str, files: dict[str, str | bytes], **extra: Any) -> dict[str, Any]:
    return dict(client.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)}, **extra))


def error_of(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, str, int]:
    response = exc.value.response
    return (response["Error"]["Code"], response["Error"]["Message"],
            response["ResponseMetadata"]["HTTPStatusCode"])


def files_outside(data_dir: Path, tmp_path: Path) -> list[Path]:
    return [p for p in tmp_path.rglob("*") if data_dir not in (p, *p.parents)]


def test_create_function_answers_pending_then_reads_active_with_lambdas_code_sha(
        control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    created = create(client, Environment={"Variables": {"GREETING": "hi"}}, MemorySize=256)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert created["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(APP).digest()).decode()
    assert created["CodeSize"] == len(APP)
    assert (created["State"], created["StateReasonCode"], created["Version"]) == ("Pending", "Creating",
                                                                                 "$LATEST")
    configuration = client.get_function_configuration(FunctionName="hello")
    assert (configuration["State"], configuration["LastUpdateStatus"]) == ("Active", "Successful")
    assert (created["MemorySize"], created["Timeout"]) == (256, 3)
    assert created["Environment"] == {"Variables": {"GREETING": "hi"}}
    client.get_waiter("function_active_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 1})
    client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 1})
    assert control_plane.changes == ["hello"]


def test_function_is_found_by_name_partial_arn_and_arn(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    arn = create(client)["FunctionArn"]
    for identifier in ("hello", "123456789012:function:hello", arn):
        assert client.get_function_configuration(FunctionName=identifier)["FunctionArn"] == arn
    # a qualified read shows the qualified ARN, as Lambda does
    assert client.get_function_configuration(FunctionName=f"{arn}:$LATEST")["FunctionArn"] == f"{arn}:$LATEST"
    assert client.get_function(FunctionName="hello", Qualifier="$LATEST")["Configuration"]["FunctionArn"] == (
        f"{arn}:$LATEST")
    got = client.get_function(FunctionName="hello")
    assert got["Code"]["RepositoryType"] == "S3"
    with urllib.request.urlopen(got["Code"]["Location"], timeout=10) as response:
        assert response.read() == APP


def test_creating_an_existing_function_is_a_resource_conflict(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    with pytest.raises(ClientError) as caught:
        create(client, code=make_zip({"app.py": "# other code\n"}))
    assert error_of(caught) == ("ResourceConflictException", "Function already exist: hello", 409)
    stored = {path.name for path in (control_plane.data_dir / "code").iterdir()}
    assert len(stored) == 3, "only the first function's code: zip, unpacked tree, size"


def test_unknown_function_is_resource_not_found_with_lambdas_message(control_plane: ControlPlaneServer
                                                                     ) -> None:
    client = control_plane.client()
    for call in (client.get_function, client.get_function_configuration, client.delete_function):
        with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
            call(FunctionName="nope")
        assert error_of(caught) == (  # type: ignore[arg-type]
            "ResourceNotFoundException",
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:nope", 404)
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.update_function_code(FunctionName="nope", ZipFile=APP)
    create(client)
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_function(FunctionName="hello", Qualifier="7")  # lamina keeps $LATEST only
    assert error_of(caught)[1].endswith("function:hello:7")  # type: ignore[arg-type]


def test_update_code_and_configuration_change_sha_revision_and_notify(control_plane: ControlPlaneServer
                                                                      ) -> None:
    client = control_plane.client()
    first = create(client)
    new_code = make_zip({"app.py": "def handler(event, context):\n    return 2\n"})
    updated = client.update_function_code(FunctionName="hello", ZipFile=new_code)
    assert updated["CodeSha256"] != first["CodeSha256"]
    assert updated["RevisionId"] != first["RevisionId"]
    configured = client.update_function_configuration(FunctionName="hello", Timeout=30,
                                                      Environment={"Variables": {"MODE": "x"}})
    assert (configured["Timeout"], configured["Environment"]) == (30, {"Variables": {"MODE": "x"}})
    assert configured["CodeSha256"] == updated["CodeSha256"]
    client.get_waiter("function_updated_v2").wait(FunctionName="hello", WaiterConfig={"Delay": 1})
    with pytest.raises(ClientError) as caught:
        client.update_function_configuration(FunctionName="hello", Timeout=5, RevisionId="stale")
    assert error_of(caught)[0::2] == ("PreconditionFailedException", 412)
    assert control_plane.changes == ["hello"] * 3


def test_bad_values_are_validation_errors_not_tracebacks(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client(validate=False)
    cases = [
        ({"Timeout": 901}, "ValidationException"),
        ({"MemorySize": 64}, "ValidationException"),
        ({"Runtime": "cobol85"}, "InvalidParameterValueException"),
        ({"Environment": {"Variables": {"AWS_REGION": "x"}}}, "InvalidParameterValueException"),
        ({"Layers": [f"{LAYER_ARN}:nope:1"]}, "InvalidParameterValueException"),
        ({"Role": "not-a-role"}, "ValidationException"),
        ({"Timeout": "soon"}, "InvalidRequestContentException"),
        ({"Code": {"ZipFile": b""}}, "InvalidParameterValueException"),
        ({"Code": {"S3Bucket": "b", "S3Key": "k"}}, "InvalidParameterValueException"),
    ]
    for extra, expected in cases:
        arguments = {"FunctionName": "bad", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
                     "Code": {"ZipFile": APP}, **extra}
        with pytest.raises(ClientError) as caught:
            client.create_function(**arguments)
        assert error_of(caught)[0] == expected, extra
    assert client.list_functions()["Functions"] == []


def test_malformed_json_is_invalid_request_content(control_plane: ControlPlaneServer) -> None:
    request = control_plane.signed("POST", "/2015-03-31/functions", b"{not json")
    with pytest.raises(urllib.error.HTTPError) as caught:
        urllib.request.urlopen(request, timeout=10)
    assert caught.value.code == 400
    assert caught.value.headers["X-Amzn-ErrorType"] == "InvalidRequestContentException"
    assert json.loads(caught.value.read())["Type"] == "User"


def test_list_functions_pages_with_markers(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    for name in ("a", "b", "c"):
        create(client, name)
    first = client.list_functions(MaxItems=2)
    assert [f["FunctionName"] for f in first["Functions"]] == ["a", "b"]
    second = client.list_functions(MaxItems=2, Marker=first["NextMarker"])
    assert [f["FunctionName"] for f in second["Functions"]] == ["c"] and "NextMarker" not in second
    pages = client.get_paginator("list_functions").paginate(PaginationConfig={"PageSize": 1})
    assert [f["FunctionName"] for page in pages for f in page["Functions"]] == ["a", "b", "c"]


def test_delete_function_answers_204_and_frees_its_code(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client)
    assert client.delete_function(FunctionName="hello")["ResponseMetadata"]["HTTPStatusCode"] == 204
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.get_function(FunctionName="hello")
    assert list((control_plane.data_dir / "code").iterdir()) == []


def test_layer_versions_are_numbered_listed_found_by_arn_and_deleted(control_plane: ControlPlaneServer
                                                                      ) -> None:
    client = control_plane.client()
    one = publish(client, "deps", {"python/a.py": "A=1"},
                                       CompatibleRuntimes=["python3.12"], Description="first")
    two = publish(client, "deps", {"python/a.py": "A=2"},
                                       CompatibleRuntimes=["python3.13"])
    assert one["ResponseMetadata"]["HTTPStatusCode"] == 201
    assert (one["Version"], two["Version"]) == (1, 2)
    assert two["LayerVersionArn"] == "arn:aws:lambda:us-east-1:123456789012:layer:deps:2"
    assert one["Content"]["CodeSha256"] == base64.b64encode(
        hashlib.sha256(make_zip({"python/a.py": "A=1"})).digest()).decode()
    assert client.get_layer_version(LayerName="deps", VersionNumber=1)["Description"] == "first"
    assert client.get_layer_version_by_arn(Arn=one["LayerVersionArn"])["Version"] == 1
    layers = client.list_layers()["Layers"]
    assert [(layer["LayerName"], layer["LatestMatchingVersion"]["Version"]) for layer in layers] == [
        ("deps", 2)]
    assert client.list_layers(CompatibleRuntime="python3.12")["Layers"][0]["LatestMatchingVersion"][
        "Version"] == 1
    assert [v["Version"] for v in client.list_layer_versions(LayerName="deps")["LayerVersions"]] == [2, 1]
    client.delete_layer_version(LayerName="deps", VersionNumber=2)
    client.delete_layer_version(LayerName="deps", VersionNumber=2)  # idempotent, as in Lambda
    with pytest.raises(client.exceptions.ResourceNotFoundException) as caught:
        client.get_layer_version(LayerName="deps", VersionNumber=2)
    assert error_of(caught)[1] == "The resource you requested does not exist."
    three = client.publish_layer_version(LayerName="deps", Content={"ZipFile": make_zip({"x": "3"})})
    assert three["Version"] == 3, "deleted version numbers are never reused"


def test_function_layers_are_shown_in_order_and_survive_layer_deletion(control_plane: ControlPlaneServer
                                                                       ) -> None:
    client = control_plane.client()
    arns = [client.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip({f"{name}.txt": name})}
                                         )["LayerVersionArn"] for name in ("first", "second")]
    created = create(client, Layers=list(reversed(arns)))
    assert [layer["Arn"] for layer in created["Layers"]] == list(reversed(arns))
    client.delete_layer_version(LayerName="first", VersionNumber=1)
    assert client.get_function(FunctionName="hello")["Configuration"]["Layers"][1]["Arn"] == arns[0]
    cleared = client.update_function_configuration(FunctionName="hello", Layers=[])
    assert "Layers" not in cleared


def test_hostile_zip_is_refused_and_nothing_lands_outside_the_data_dir(control_plane: ControlPlaneServer,
                                                                       tmp_path: Path) -> None:
    client = control_plane.client()
    for hostile in (make_zip({"../../escape.py": "x"}), make_zip({"/tmp/abs.py": "x"}),
                    make_zip({"ok.py": ""}, links={"link": "/etc"}), b"not a zip"):
        with pytest.raises(ClientError) as caught:
            create(client, code=hostile)
        assert error_of(caught)[0::2] == ("InvalidParameterValueException", 400)
    assert files_outside(control_plane.data_dir, tmp_path) == []
    assert client.list_functions()["Functions"] == []


def test_unzipped_size_over_250_mb_is_lambdas_invalid_parameter_value(control_plane: ControlPlaneServer
                                                                      ) -> None:
    client = control_plane.client()
    with pytest.raises(ClientError) as caught:
        create(client, code=zip_bomb(protocol.MAX_UNZIPPED_CODE + 1024 * 1024))
    assert error_of(caught) == ("InvalidParameterValueException",
                                "Unzipped size must be smaller than 262144000 bytes", 400)


def test_zip_over_50_mb_is_request_entity_too_large_with_lambdas_zipped_size_message(
        control_plane: ControlPlaneServer, monkeypatch: pytest.MonkeyPatch) -> None:
    # the server runs in this process: lower the 50 MB limit instead of sending 70 MB of base64
    monkeypatch.setattr(protocol, "MAX_ZIPPED_DIRECT_UPLOAD", 64 * 1024)
    client = control_plane.client()
    big = make_zip({"blob.bin": bytes(range(256)) * 1024}, compression=0)
    with pytest.raises(ClientError) as caught:
        create(client, code=big)
    code, message, status = error_of(caught)
    assert (code, status) == ("RequestEntityTooLargeException", 413)
    assert message == f"Zipped size must be smaller than {64 * 1024} bytes"


def test_code_storage_quota_is_code_storage_exceeded(tmp_path: Path) -> None:
    with running(ControlPlaneServer(tmp_path / "data", storage_limit=len(APP) + 10)) as server:
        client = server.client()
        create(client, "one")
        with pytest.raises(ClientError) as caught:
            create(client, "two", code=make_zip({"app.py": "# other code\n"}))
    assert error_of(caught) == ("CodeStorageExceededException", "Code storage limit exceeded.", 400)


def test_functions_and_layers_survive_a_restart(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    layer = client.publish_layer_version(LayerName="deps", Content={"ZipFile": make_zip({"python/a.py": ""})})
    created = create(client, Layers=[layer["LayerVersionArn"]])
    control_plane.stop()
    control_plane.start()
    client = control_plane.client()
    after = client.get_function_configuration(FunctionName="hello")
    assert (after["CodeSha256"], after["RevisionId"], after["Layers"]) == (
        created["CodeSha256"], created["RevisionId"], created["Layers"])
    assert client.get_layer_version(LayerName="deps", VersionNumber=1)["Version"] == 1
    assert client.publish_layer_version(LayerName="deps", Content={"ZipFile": APP})["Version"] == 2


WRONG_TYPES = [1, "x", [], {}, [1], True, {"Variables": 5}, {"ZipFile": 5}]
MEMBERS = ["FunctionName", "Role", "Runtime", "Code", "Timeout", "Environment", "Layers", "Architectures",
           "EphemeralStorage", "Tags", "LoggingConfig"]


def test_members_of_the_wrong_json_type_get_aws_errors_never_a_server_error(
        control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    create(client, "f")
    valid = {"FunctionName": "g", "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
             "Code": {"ZipFile": base64.b64encode(APP).decode()}}
    for member in MEMBERS:
        for wrong in WRONG_TYPES:
            for method, path, body in (("POST", "/2015-03-31/functions", {**valid, member: wrong}),
                                       ("PUT", "/2015-03-31/functions/f/configuration", {member: wrong})):
                request = control_plane.signed(method, path, json.dumps(body).encode())
                try:
                    with urllib.request.urlopen(request, timeout=10) as response:
                        status, error_type = response.status, None
                        created = json.loads(response.read())
                    if method == "POST":
                        client.delete_function(FunctionName=created["FunctionName"])
                except urllib.error.HTTPError as exc:
                    status, error_type = exc.code, exc.headers["X-Amzn-ErrorType"]
                assert status < 500, (method, member, wrong)
                assert status < 300 or error_type, (method, member, wrong)
