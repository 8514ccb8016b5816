"""A Debug Adapter Protocol client over a socket, as VS Code speaks to debugpy (enough to attach,
set breakpoints, see where it stopped and continue)."""

from __future__ import annotations

import json
import socket
import time
from typing import Any, Optional


class DapClient:
    def __init__(self, port: int, timeout: float = 30.0) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._buffer = b""
        self._seq = 0
        self.messages: list[dict[str, Any]] = []

    def close(self) -> None:
        self._sock.close()

    def send(self, command: str, **arguments: Any) -> int:
        self._seq += 1
        body = json.dumps({"seq": self._seq, "type": "request", "command": command,
                           "arguments": arguments}).encode()
        self._sock.sendall(b"Content-Length: %d\r\n\r\n" % len(body) + body)
        return self._seq

    def _read(self) -> dict[str, Any]:
        while b"\r\n\r\n" not in self._buffer:
            self._receive()
        header, _, rest = self._buffer.partition(b"\r\n\r\n")
        length = int(header.split(b":")[1])
        while len(rest) < length:
            self._buffer = header + b"\r\n\r\n" + rest
            self._receive()
            header, _, rest = self._buffer.partition(b"\r\n\r\n")
        message: dict[str, Any] = json.loads(rest[:length])
        self._buffer = rest[length:]
        self.messages.append(message)
        return message

    def _receive(self) -> None:
        chunk = self._sock.recv(65536)
        if not chunk:
            raise ConnectionError("debug adapter closed the connection")
        self._buffer += chunk

    def wait_for(self, *, event: Optional[str] = None, response_to: Optional[int] = None) -> dict[str, Any]:
        for message in self.messages:
            if _matches(message, event, response_to):
                self.messages.remove(message)
                return message
        while True:
            message = self._read()
            if _matches(message, event, response_to):
                self.messages.remove(message)
                return message


def _matches(message: dict[str, Any], event: Optional[str], response_to: Optional[int]) -> bool:
    if event is not None:
        return message.get("type") == "event" and message.get("event") == event
    return message.get("type") == "response" and message.get("request_seq") == response_to
