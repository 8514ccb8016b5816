"""`lamina serve` on the SAM and CDK corpus (tests/project/fixtures), called with boto3 and plain HTTP."""

from __future__ import annotations

import json
import shutil
import socket
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Optional

from tests.conftest import free_port
from tests.local.local_helpers import lambda_client, lamina_serve

FIXTURES = Path(__file__).resolve().parents[2] / "project" / "fixtures"


def http(port: int, path: str, method: str = "GET", headers: Optional[dict[str, str]] = None,
         data: Optional[bytes] = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=data, method=method,
                                     headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, {k.lower(): v for k, v in response.headers.items()}, response.read()
    except urllib.error.HTTPError as err:
        return err.code, {k.lower(): v for k, v in err.headers.items()}, err.read()


def serve_sam(tmp_path: Path, *extra: str) -> Any:
    app = tmp_path / "sam-app"
    shutil.copytree(FIXTURES / "sam-app", app)
    http_port = free_port()
    server = lamina_serve(["--template", str(app / "template.yaml"), "--http", str(http_port),
                           "--parameter-overrides", "Greeting=hi", "--env-vars", str(app / "env.json"),
                           *extra], tmp_path, cwd=tmp_path)
    return server, http_port, app


def test_sam_rest_api_answers_as_api_gateway(tmp_path: Path) -> None:
    server, port, _ = serve_sam(tmp_path)
    with server:
        status, headers, body = http(port, "/items/1")
        event = json.loads(body)
        assert status == 200 and headers["content-type"] == "application/json"  # REST's default
        assert event["stage"] == "dev" and event["path"] == "/dev/items/1" and event["version"] is None
        assert event["stageVariables"] == {"color": "blue"} and event["env"]["APP_COLOR"] == "red"
        assert http(port, "/items/1", "DELETE")[0:3:2] == (403, b'{"message":"Missing Authentication Token"}')
        assert http(port, "/nope")[0] == 404  # REST and HTTP APIs share the port: no API owns the path
        assert json.loads(http(port, "/implicit")[2])["stage"] == "Prod"
        status, headers, _ = http(port, "/items/1", "OPTIONS", {"Origin": "https://example.com",
                                                                "Access-Control-Request-Method": "GET"})
        assert status == 200 and headers["access-control-allow-origin"] == "https://example.com"
        png = json.loads(http(port, "/upload", "POST", {"Content-Type": "image/png"}, b"\x89PNG")[2])
        assert png["isBase64Encoded"] is True
        text = json.loads(http(port, "/upload", "POST", {"Content-Type": "application/x-thing"}, b"abc")[2])
        assert text["isBase64Encoded"] is False and text["body"] == "abc"
        with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
            sock.sendall(b"GET /items/1 HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
            assert sock.recv(64).startswith(b"HTTP/1.1 200")


def test_sam_http_api_cors_openapi_tenancy_and_logical_ids(tmp_path: Path) -> None:
    served, port, _ = serve_sam(tmp_path, "--region", "eu-west-1")
    with served as server:
        status, headers, body = http(port, "/defined", headers={"Origin": "https://example.com"})
        assert status == 200 and headers["access-control-allow-origin"] == "https://example.com"
        assert json.loads(body)["region"] == "eu-west-1"
        status, headers, _ = http(port, "/defined", "OPTIONS", {"Origin": "https://example.com",
                                                                 "Access-Control-Request-Method": "GET"})
        assert status == 204 and headers["access-control-allow-methods"] == "GET"
        assert http(port, "/tenant")[0] == 500  # Lambda refuses (no tenant id); API Gateway answers 500
        assert http(port, "/tenant", headers={"X-Amz-Tenant-Id": "blue"})[0] == 200
        client = lambda_client(server.port)
        for name in ("RestFunction", "rest-items"):
            result = client.invoke(FunctionName=name, Payload=b'{"requestContext": {"stage": "x"}}')
            assert json.loads(json.loads(result["Payload"].read())["body"])["function"] == "rest-items"
        child = json.loads(client.invoke(FunctionName="Child-ChildFunction")["Payload"].read())
        assert child["env"] == {"APP_SUFFIX": "from-parent"}
        inline = client.invoke(FunctionName="InlineFunction")["Payload"].read()
        assert json.loads(inline) == {"inline": True}


def test_cdk_out_serves_rest_and_http_api_routes(tmp_path: Path) -> None:
    cdk_out = tmp_path / "cdk.out"
    shutil.copytree(FIXTURES / "cdk-app" / "cdk.out", cdk_out)
    port = free_port()
    with lamina_serve(["--cdk-out", str(cdk_out), "--http", str(port), "--eager"], tmp_path, cwd=tmp_path):
        status, _, body = http(port, "/items/7")
        event = json.loads(body)
        assert status == 200 and event["stage"] == "prod" and event["stageVariables"] == {"color": "blue"}
        assert event["shared"] == "from the layer" and event["greeting"] == "hello from cdk"
        assert json.loads(http(port, "/things/1")[2])["stage"] == "$default"
        status, headers, _ = http(port, "/items", "OPTIONS", {"Origin": "https://example.com",
                                                              "Access-Control-Request-Method": "GET"})
        assert status == 204 and headers["access-control-allow-origin"] == "https://example.com"


def test_reload_adding_a_function_on_an_existing_route_without_http(tmp_path: Path) -> None:
    app = tmp_path / "sam-app"
    shutil.copytree(FIXTURES / "sam-app", app)
    template = app / "template.yaml"
    with lamina_serve(["--template", str(template)], tmp_path, cwd=tmp_path) as server:
        template.write_text(template.read_text() + textwrap_twin())
        client = lambda_client(server.port)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                client.invoke(FunctionName="Twin")
                break
            except client.exceptions.ResourceNotFoundException:
                time.sleep(0.1)
        assert "declared more than once" not in server.logs()
        assert json.loads(client.invoke(FunctionName="Twin")["Payload"].read())["function"] == "Twin"


def textwrap_twin() -> str:
    return ("  Twin:\n    Type: AWS::Serverless::Function\n    Properties:\n      Handler: app.plain\n"
            "      Events:\n        Same:\n          Type: Api\n          Properties: "
            "{RestApiId: !Ref RestApi, Path: \"/items/{id}\", Method: get}\n")
