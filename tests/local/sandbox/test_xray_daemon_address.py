"""The X-Ray daemon address an environment gets: this machine's loopback, not Lambda's link-local one."""

from __future__ import annotations

import ipaddress
from pathlib import Path

from lamina.local.model.function_config import FunctionConfig
from lamina.local.sandbox import variables


def test_xray_daemon_address_is_loopback_in_every_form_the_sdks_read(tmp_path: Path) -> None:
    env = variables.build(FunctionConfig(name="traced", code_dir=tmp_path, handler="app.handler"),
                          "127.0.0.1:9001", host={})
    host, port = env["AWS_XRAY_DAEMON_ADDRESS"].rsplit(":", 1)
    assert ipaddress.ip_address(host).is_loopback and port == "2000"
    assert env["_AWS_XRAY_DAEMON_ADDRESS"] == host
    assert env["_AWS_XRAY_DAEMON_PORT"] == port
    assert env["AWS_XRAY_CONTEXT_MISSING"] == "LOG_ERROR"
