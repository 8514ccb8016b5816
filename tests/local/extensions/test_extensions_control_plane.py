"""Extensions from a published layer: boto3's publish_layer_version and create_function against
``lamina serve`` (bubblewrap, so /opt/extensions and sandbox.localdomain are as on Lambda)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path

import pytest

from lamina.local.sandbox.bubblewrap import bwrap_works
from tests.conftest import free_port
from tests.local.extensions import components
from tests.local.local_helpers import lambda_client, lamina_serve

pytestmark = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot mount here")


def test_published_layer_extensions_run_with_the_function_and_subscribe_at_sandbox_localdomain(
        tmp_path: Path) -> None:
    layer = components.layer(tmp_path / "layer", "recorder", "telemetry-sub")
    code = components.code(tmp_path / "code")
    port = free_port()
    with lamina_serve(["--data-dir", str(tmp_path / "data")], tmp_path, cwd=tmp_path,
                      env={"LAMINA_SANDBOX": "bwrap"}) as server:
        client = lambda_client(server.port)
        published = client.publish_layer_version(LayerName="extensions",
                                                 Content={"ZipFile": components.zipped(layer)})
        # The extensions write to /tmp/ext.out inside the sandbox; the handler reads it back.
        client.create_function(
            FunctionName="withext", Runtime="python3.12", Handler="app.handler", Timeout=10,
            Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": components.zipped(code)},
            Layers=[published["LayerVersionArn"]],
            Environment={"Variables": {"EXT_OUT": "/tmp/ext.out", "LISTENER_HOST": "sandbox.localdomain",
                                       "LISTENER_PORT": str(port)}})
        client.get_waiter("function_active_v2").wait(FunctionName="withext")
        answer = client.invoke(FunctionName="withext", Payload=b'{"resolve": true}')
        request_id = answer["ResponseMetadata"]["RequestId"]
        assert "FunctionError" not in answer, answer["Payload"].read()
        events = _received(port, request_id)
        log = server.logs()
    assert "EXTENSION\tName: recorder\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in log
    assert "EXTENSION\tName: telemetry-sub\tState: Ready\tEvents: [INVOKE, SHUTDOWN]" in log
    assert "TELEMETRY\tName: telemetry-sub\tState: Subscribed\tTypes: [Platform, Function]" in log
    assert json.loads(answer["Payload"].read()) == {"wrapped": None, "sandbox": "127.0.0.1"}
    types = {event["type"] for event in events}
    assert {"platform.initStart", "platform.start", "platform.runtimeDone", "platform.report"} <= types
    assert any(event["type"] == "function" and request_id in event["record"] for event in events)


def _received(port: int, request_id: str) -> list[dict[str, object]]:
    """What the subscriber (listening at sandbox.localdomain:port, loopback) got, once the report came."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5) as response:
            events = json.loads(response.read())
        if any(event["type"] == "platform.report" and event["record"]["requestId"] == request_id
               for event in events):
            return list(events)
        time.sleep(0.05)
    raise AssertionError(f"no platform.report for {request_id}")
