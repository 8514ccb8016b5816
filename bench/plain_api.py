"""A plain Runtime API: what a straightforward threaded socket server looks like, for the benchmark.

``bench/minimal_api.py`` answers with pre-rendered bytes in one ``sendall`` and reads bodies in as few
``recv`` calls as it can. Real servers are less kind: this one is ``socketserver`` with a thread per
connection and buffered files, reads requests line by line, and writes an event's headers and body as
separate writes (as Go's ``net/http`` in Lambda's own Runtime API does), keep-alive throughout. A runtime
that is fast only against the kind server shows it here.
"""

from __future__ import annotations

import socket
import socketserver
import threading
import time

from bench.minimal_api import AnswerTally

_ARN = b"arn:aws:lambda:us-east-1:123456789012:function:f"
_ACCEPTED = b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 16\r\n\r\n"


class PlainRuntimeAPI(AnswerTally):
    """Serves ``count`` copies of ``event`` on ``next``, counts the answers, keeps the last one."""

    def __init__(self, count: int, event: bytes = b"{}") -> None:
        super().__init__(count, event)
        api = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                super().setup()

            def handle(self) -> None:
                try:
                    while api._serve_one(self.rfile, self.wfile):
                        pass
                except OSError:
                    return

        self._server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.address = f"127.0.0.1:{self._server.server_address[1]}"
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def _serve_one(self, rfile, wfile) -> bool:  # type: ignore[no-untyped-def]
        request_line = rfile.readline(65537)
        if not request_line:
            return False
        length = 0
        while True:
            line = rfile.readline(65537)
            if line in (b"\r\n", b"\n", b""):
                break
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-length":
                length = int(value.strip())
        if request_line.startswith(b"GET"):
            number = self._next_number()
            if number is None:
                return False  # all served: leave the runtime waiting, as Lambda would
            deadline = int(time.time() * 1000) + 900_000
            wfile.write((b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                         b"Lambda-Runtime-Aws-Request-Id: req-%d\r\nLambda-Runtime-Deadline-Ms: %d\r\n"
                         b"Lambda-Runtime-Invoked-Function-Arn: " + _ARN + b"\r\n"
                         b"Content-Length: %d\r\n\r\n") % (number, deadline, len(self.event)))
            wfile.write(self.event)
            return True
        body = rfile.read(length)
        wfile.write(_ACCEPTED + b"{\"status\":\"OK\"}\n")
        self._answered(body)
        return True
