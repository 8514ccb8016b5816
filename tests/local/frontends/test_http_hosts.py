"""The HTTP front answers only requests addressed to this machine: DNS rebinding reads nothing."""

from __future__ import annotations

import http.client
from pathlib import Path

from tests.conftest import free_port
from tests.local.local_helpers import FUNCTIONS, lamina_serve


def _get(port: int, host: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", "/anything", headers={"Host": host})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_a_rebound_name_is_refused_and_loopback_and_localhost_names_are_answered(tmp_path: Path) -> None:
    http_port = free_port()
    args = ["--code", str(FUNCTIONS), "--handler", "handlers.echo", "--http", str(http_port), "--no-watch",
            "--allow-host", "dev.example.test"]
    with lamina_serve(args, tmp_path) as server:
        refused = _get(http_port, f"rebind.evil.example:{http_port}")
        answered = [_get(http_port, host)[0] for host in
                    (f"127.0.0.1:{http_port}", f"localhost:{http_port}", f"app.localhost:{http_port}",
                     f"dev.example.test:{http_port}")]
        assert server.invoke(b"{}").status == 200
    assert refused == (403, b'{"message":"Forbidden"}')
    assert answered == [200, 200, 200, 200]
