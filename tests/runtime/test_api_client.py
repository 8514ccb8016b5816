"""The Runtime API client's pipelining: the request for the next event goes out with a small result.

Each test scripts a raw socket server (one thread, bounded by socket timeouts) and drives
:class:`RuntimeAPIClient` in-process, so what is on the wire, and in which order, is visible exactly.
"""

from __future__ import annotations

import select
import socket
import threading
from typing import Callable, List

import pytest

from lamina.runtime.api_client import RuntimeAPIClient, RuntimeAPIError

NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\n"
ACCEPTED = (b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
            b"Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
CLOSING = (b"HTTP/1.1 202 Accepted\r\nConnection: close\r\nContent-Type: application/json\r\n"
           b"Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")


def event(request_id: str) -> bytes:
    return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nLambda-Runtime-Aws-Request-Id: "
            + request_id.encode() + b"\r\nLambda-Runtime-Deadline-Ms: 1\r\nContent-Length: 2\r\n\r\n{}")


class ScriptedServer:
    """Runs ``scripts[i]`` on the i-th accepted connection; records what each connection received."""

    def __init__(self, scripts: List[Callable[[socket.socket, ScriptedServer], None]]) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(5)
        self.address = f"127.0.0.1:{self.listener.getsockname()[1]}"
        self.received: List[bytes] = []
        self.errors: List[BaseException] = []
        self._thread = threading.Thread(target=self._serve, args=(scripts,), daemon=True)
        self._thread.start()

    def _serve(self, scripts: List[Callable[[socket.socket, ScriptedServer], None]]) -> None:
        try:
            for script in scripts:
                conn, _ = self.listener.accept()
                conn.settimeout(5)
                self.received.append(b"")
                with conn:
                    script(conn, self)
        except BaseException as exc:  # reported by join()
            self.errors.append(exc)

    def read_until(self, conn: socket.socket, *markers: bytes) -> bytes:
        """Read until every marker has arrived on this connection; return all it received."""
        while not all(marker in self.received[-1] for marker in markers):
            data = conn.recv(65536)
            if not data:
                raise AssertionError(f"connection closed before {markers!r}: {self.received[-1]!r}")
            self.received[-1] += data
        return self.received[-1]

    def join(self) -> None:
        self._thread.join(10)
        self.listener.close()
        if self.errors:
            raise self.errors[0]


@pytest.mark.parametrize("kind", ["response", "error"])
def test_a_small_result_carries_the_request_for_the_next_event(kind: str) -> None:
    def script(conn: socket.socket, server: ScriptedServer) -> None:
        # Both requests arrive before anything is answered: the client did not wait for the 202.
        server.read_until(conn, b"/r1/" + kind.encode(), NEXT)
        conn.sendall(ACCEPTED + event("r2"))

    server = ScriptedServer([script])
    client = RuntimeAPIClient(server.address)
    if kind == "response":
        client.post_response("r1", b'{"ok": true}', "application/json", then_next=True)
    else:
        client.post_error("r1", b'{"errorMessage": "x"}', then_next=True)
    assert client.next_invocation().request_id == "r2"
    server.join()
    assert server.received[0].count(NEXT) == 1  # asked once: the pipelined request was answered


@pytest.mark.parametrize("answer", [CLOSING, ACCEPTED], ids=["connection-close", "closed-silently"])
def test_a_connection_closed_after_the_result_asks_again_on_a_new_one(answer: bytes) -> None:
    def first(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_until(conn, b"/r1/response", NEXT)
        conn.sendall(answer)  # and the connection ends: the pipelined request is never answered

    def second(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_until(conn, NEXT)
        conn.sendall(event("r2"))

    server = ScriptedServer([first, second])
    client = RuntimeAPIClient(server.address)
    client.post_response("r1", b"{}", "application/json", then_next=True)
    assert client.next_invocation().request_id == "r2"
    server.join()
    assert [received.count(NEXT) for received in server.received] == [1, 1]


def test_a_large_result_waits_for_its_answer_before_asking() -> None:
    body = b'"' + b"x" * (300 * 1024) + b'"'

    def script(conn: socket.socket, server: ScriptedServer) -> None:
        received = server.read_until(conn, b"\r\n\r\n")
        while len(server.received[-1]) < received.index(b"\r\n\r\n") + 4 + len(body):
            data = conn.recv(1 << 20)
            assert data, "connection closed mid-body"
            server.received[-1] += data
        # Nothing follows the result until it is answered (a large result could be refused).
        assert select.select([conn], [], [], 0.3)[0] == []
        conn.sendall(ACCEPTED)
        server.read_until(conn, NEXT)
        conn.sendall(event("r2"))

    server = ScriptedServer([script])
    client = RuntimeAPIClient(server.address)
    client.post_response("r1", body, "application/json", then_next=True)
    assert client.next_invocation().request_id == "r2"
    server.join()


def test_a_refused_result_is_reported_and_the_next_event_still_read() -> None:
    refused = b"HTTP/1.1 400 Bad Request\r\nContent-Length: 2\r\n\r\n{}"

    def script(conn: socket.socket, server: ScriptedServer) -> None:
        server.read_until(conn, b"/r1/response", NEXT)
        conn.sendall(refused + event("r2"))

    server = ScriptedServer([script])
    client = RuntimeAPIClient(server.address)
    with pytest.raises(RuntimeAPIError) as raised:
        client.post_response("r1", b"{}", "application/json", then_next=True)
    assert raised.value.status == 400
    assert client.next_invocation().request_id == "r2"  # the connection stays in step
    server.join()
