"""The control plane's settings reach the rest of ``lamina serve``: code from S3 (moto's server as
the S3 endpoint) and event invoke configs honoured by the durable Event queue."""

from __future__ import annotations

import http.client
import io
import json
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

import boto3

from tests.conftest import free_port
from tests.deploy.conftest import ROLE
from tests.local.local_helpers import lambda_client, lamina_serve

FAILING = """\
def handler(event, context):
    raise RuntimeError("always")
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_code_from_s3_is_fetched_from_the_given_endpoint(tmp_path: Path,
                                                         moto_server_factory: Callable[[], str]) -> None:
    s3_url = moto_server_factory()
    s3 = boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1")
    s3.create_bucket(Bucket="code")
    s3.put_object(Bucket="code", Key="fn.zip", Body=_zip("def handler(event, context):\n    return 's3'\n"))
    with lamina_serve(["--no-watch", "--data-dir", str(tmp_path / "data"), "--s3-endpoint-url", s3_url],
                      tmp_path, cwd=tmp_path) as server:
        client = lambda_client(server.port)
        client.create_function(FunctionName="from-s3", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"S3Bucket": "code", "S3Key": "fn.zip"})
        client.get_waiter("function_active_v2").wait(FunctionName="from-s3")
        answer = client.invoke(FunctionName="from-s3")
        assert json.loads(answer["Payload"].read()) == "s3"


def test_event_invoke_config_put_through_the_control_plane_is_honoured(tmp_path: Path) -> None:
    with lamina_serve(["--no-watch", "--data-dir", str(tmp_path / "data")], tmp_path, cwd=tmp_path,
                      env={"LAMINA_ASYNC_RETRY_DELAYS": "0.05,0.05"}) as server:
        client = lambda_client(server.port)
        client.create_function(FunctionName="fails", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": _zip(FAILING)})
        client.get_waiter("function_active_v2").wait(FunctionName="fails")
        client.put_function_event_invoke_config(FunctionName="fails", MaximumRetryAttempts=0)
        assert client.invoke(FunctionName="fails", InvocationType="Event")["StatusCode"] == 202
        deadline = time.monotonic() + 20
        while "RetriesExhausted" not in server.logs() and time.monotonic() < deadline:
            time.sleep(0.05)
        log = server.logs()
    # no retries, as configured (Lambda's default is 2): one attempt, then given up
    assert "RetriesExhausted after 1 attempt(s)" in log, log
    assert log.count("fails | START RequestId") == 1


URL_HANDLER = """\
import json


def handler(event, context):
    return {"statusCode": 200, "headers": {"content-type": "application/json"},
            "body": json.dumps({"routeKey": event["routeKey"], "rawPath": event["rawPath"],
                                "version": event["version"], "function": context.function_name})}
"""


def test_a_function_url_config_is_served_by_the_http_front_at_its_own_host(tmp_path: Path) -> None:
    http_port = free_port()
    with lamina_serve(["--no-watch", "--data-dir", str(tmp_path / "data"), "--http", str(http_port)],
                      tmp_path, cwd=tmp_path) as server:
        client = lambda_client(server.port)
        client.create_function(FunctionName="site", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                               Code={"ZipFile": _zip(URL_HANDLER)})
        client.get_waiter("function_active_v2").wait(FunctionName="site")
        url = client.create_function_url_config(FunctionName="site", AuthType="NONE")["FunctionUrl"]
        url_id = url.split("//", 1)[1].split(".", 1)[0]
        connection = http.client.HTTPConnection("127.0.0.1", http_port, timeout=30)
        host = f"{url_id}.lambda-url.localhost:{http_port}"
        connection.request("GET", "/some/page?x=1", headers={"Host": host})
        answer = connection.getresponse()
        body = json.loads(answer.read())
        connection.close()
    assert answer.status == 200
    assert body == {"routeKey": "$default", "rawPath": "/some/page", "version": "2.0", "function": "site"}
