"""The AWS CLI drives lamina's control plane unchanged (``aws lambda … --endpoint-url``)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

from .conftest import ROLE, ControlPlaneServer, cli_env
from .zips import make_zip

AWS = str(Path(sys.executable).parent / "aws")


def aws(server: ControlPlaneServer, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([AWS, "lambda", *args, "--endpoint-url", server.url], env=cli_env(),
                          capture_output=True, text=True, timeout=60)


def aws_json(server: ControlPlaneServer, *args: str) -> Any:
    result = aws(server, *args)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if result.stdout.strip() else None


def test_cli_creates_reads_lists_and_deletes_functions_and_layers(control_plane: ControlPlaneServer,
                                                                 tmp_path: Path) -> None:
    function_zip = tmp_path / "function.zip"
    function_zip.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    layer_zip = tmp_path / "layer.zip"
    layer_zip.write_bytes(make_zip({"python/helper.py": "X = 1\n"}))

    layer = aws_json(control_plane, "publish-layer-version", "--layer-name", "helpers", "--zip-file",
                     f"fileb://{layer_zip}", "--compatible-runtimes", "python3.12")
    assert layer["Version"] == 1
    created = aws_json(control_plane, "create-function", "--function-name", "hello", "--runtime",
                       "python3.12", "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{function_zip}",
                       "--layers", layer["LayerVersionArn"])
    assert created["State"] == "Pending" and created["Layers"][0]["Arn"] == layer["LayerVersionArn"]
    assert aws(control_plane, "wait", "function-active-v2", "--function-name", "hello").returncode == 0

    listed = aws_json(control_plane, "list-functions")
    assert [f["FunctionName"] for f in listed["Functions"]] == ["hello"]
    by_arn = aws_json(control_plane, "get-layer-version-by-arn", "--arn", layer["LayerVersionArn"])
    assert by_arn["Content"]["CodeSha256"] == layer["Content"]["CodeSha256"]
    assert aws_json(control_plane, "list-layers")["Layers"][0]["LayerName"] == "helpers"

    assert aws(control_plane, "delete-function", "--function-name", "hello").returncode == 0
    missing = aws(control_plane, "get-function-configuration", "--function-name", "hello")
    assert missing.returncode != 0
    assert "ResourceNotFoundException" in missing.stderr
    assert "Function not found: arn:aws:lambda:us-east-1:123456789012:function:hello" in missing.stderr


def test_cli_publishes_versions_and_manages_aliases_permissions_tags_concurrency_and_urls(
        control_plane: ControlPlaneServer, tmp_path: Path) -> None:
    function_zip = tmp_path / "function.zip"
    function_zip.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 1\n"}))
    created = aws_json(control_plane, "create-function", "--function-name", "tools", "--runtime",
                       "python3.12", "--handler", "app.handler", "--role", ROLE, "--zip-file",
                       f"fileb://{function_zip}")
    assert aws(control_plane, "wait", "function-active-v2", "--function-name", "tools").returncode == 0
    arn = created["FunctionArn"]

    version = aws_json(control_plane, "publish-version", "--function-name", "tools")
    assert version["Version"] == "1" and version["FunctionArn"] == f"{arn}:1"
    assert aws(control_plane, "wait", "published-version-active", "--function-name", "tools",
               "--qualifier", "1").returncode == 0
    versions = aws_json(control_plane, "list-versions-by-function", "--function-name", "tools")["Versions"]
    assert [v["Version"] for v in versions] == ["$LATEST", "1"]

    alias = aws_json(control_plane, "create-alias", "--function-name", "tools", "--name", "live",
                     "--function-version", "1")
    assert alias["AliasArn"] == f"{arn}:live" and alias["FunctionVersion"] == "1"
    aliases = aws_json(control_plane, "list-aliases", "--function-name", "tools")["Aliases"]
    assert [a["Name"] for a in aliases] == ["live"]

    permission = aws_json(control_plane, "add-permission", "--function-name", "tools", "--statement-id", "s3",
                          "--action", "lambda:InvokeFunction", "--principal", "s3.amazonaws.com")
    assert json.loads(permission["Statement"])["Sid"] == "s3"
    policy = json.loads(aws_json(control_plane, "get-policy", "--function-name", "tools")["Policy"])
    assert [statement["Sid"] for statement in policy["Statement"]] == ["s3"]
    assert aws(control_plane, "remove-permission", "--function-name", "tools", "--statement-id", "s3") \
        .returncode == 0

    assert aws(control_plane, "tag-resource", "--resource", arn, "--tags", "team=platform").returncode == 0
    assert aws_json(control_plane, "list-tags", "--resource", arn)["Tags"] == {"team": "platform"}

    concurrency = aws_json(control_plane, "put-function-concurrency", "--function-name", "tools",
                           "--reserved-concurrent-executions", "5")
    assert concurrency == {"ReservedConcurrentExecutions": 5}
    assert aws_json(control_plane, "get-function-concurrency", "--function-name", "tools") == concurrency

    url = aws_json(control_plane, "create-function-url-config", "--function-name", "tools",
                   "--auth-type", "NONE")
    assert url["FunctionUrl"].startswith("https://") and ".lambda-url.us-east-1.on.aws" in url["FunctionUrl"]
    got = aws_json(control_plane, "get-function-url-config", "--function-name", "tools")
    assert got["AuthType"] == "NONE"

    unsupported = aws(control_plane, "list-event-source-mappings", "--function-name", "tools")
    # an AWS-shaped answer (an empty list or AWS's exception), never a plain-text 404 page
    assert unsupported.returncode == 0 or "An error occurred (" in unsupported.stderr
