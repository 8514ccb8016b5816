"""The cheapest Runtime API that is still a Runtime API: the server both runtimes meet in the benchmark.

A loop benchmark through a server measures the server too; this one does as little as HTTP/1.1 allows
(fixed, pre-rendered answers; Content-Length bodies only; one thread per connection; TCP_NODELAY), so
the runtimes' own costs dominate what is measured. Tests use ``tests/runtime/stub_api.py`` instead,
which records everything and can misbehave on purpose.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import List, Optional

_HEAD_END = b"\r\n\r\n"


class AnswerTally:
    """What both benchmark servers keep: ``count`` copies of ``event`` to hand out, and the answers."""

    def __init__(self, count: int, event: bytes = b"{}") -> None:
        self.count = count
        self.event = event
        self.answered = 0
        self.last_body = b""
        self.first_answer_at: Optional[float] = None
        self.last_answer_at = 0.0
        self.answer_times: List[float] = []
        self.done = threading.Event()
        self._first = threading.Event()
        self._served = 0
        self._lock = threading.Lock()

    def wait_first(self, timeout: float = 30) -> None:
        if not self._first.wait(timeout):
            raise TimeoutError("the runtime never answered")

    def wait_all(self, timeout: float = 300) -> None:
        if not self.done.wait(timeout):
            raise TimeoutError(f"{self.answered} of {self.count} answered")

    def _next_number(self) -> Optional[int]:
        """The next event's number, or None once all are served (the runtime is left waiting)."""
        with self._lock:
            if self._served >= self.count:
                return None
            self._served += 1
            return self._served

    def _answered(self, body: bytes) -> None:
        self.answer_times.append(time.perf_counter())
        self.answered += 1
        self.last_body = body
        if self.first_answer_at is None:
            self.first_answer_at = time.perf_counter()
            self._first.set()
        if self.answered >= self.count:
            self.last_answer_at = time.perf_counter()
            self.done.set()


class MinimalRuntimeAPI(AnswerTally):
    """Serves ``count`` copies of ``event`` on ``next``, counts the answers, keeps the last one."""

    def __init__(self, count: int, event: bytes = b"{}") -> None:
        super().__init__(count, event)
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(16)
        self.address = f"127.0.0.1:{self._server.getsockname()[1]}"
        self._accepted: List[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def close(self) -> None:
        self._server.close()
        for conn in self._accepted:
            conn.close()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._accepted.append(conn)
            threading.Thread(target=self._serve, args=(conn,), daemon=True).start()

    def _next_event(self) -> Optional[bytes]:
        number = self._next_number()
        if number is None:
            return None
        deadline = int(time.time() * 1000) + 900_000
        return (b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                b"Lambda-Runtime-Aws-Request-Id: req-%d\r\nLambda-Runtime-Deadline-Ms: %d\r\n"
                b"Lambda-Runtime-Invoked-Function-Arn: arn:aws:lambda:us-east-1:123456789012:function:f\r\n"
                b"Content-Length: %d\r\n\r\n" % (number, deadline, len(self.event)) + self.event)

    def _serve(self, conn: socket.socket) -> None:
        buffer = b""
        try:
            while True:
                end = buffer.find(_HEAD_END)
                while end < 0:
                    data = conn.recv(65536)
                    if not data:
                        return
                    buffer += data
                    end = buffer.find(_HEAD_END)
                head, buffer = buffer[:end], buffer[end + 4:]
                if head.startswith(b"GET"):
                    answer = self._next_event()
                    if answer is None:
                        return  # all served: leave the runtime waiting, as Lambda would
                    conn.sendall(answer)
                    continue
                marker = head.lower().find(b"content-length:")
                length = int(head[marker + 15:head.find(b"\r\n", marker) if head.find(b"\r\n", marker) > 0
                                  else len(head)]) if marker >= 0 else 0
                if len(buffer) < length:  # a large body: gather the pieces, join once
                    parts, have = [buffer], len(buffer)
                    while have < length:
                        data = conn.recv(max(65536, length - have))
                        if not data:
                            return
                        parts.append(data)
                        have += len(data)
                    buffer = b"".join(parts)
                body, buffer = buffer[:length], buffer[length:]
                conn.sendall(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 16\r\n\r\n{\"status\":\"OK\"}\n")
                self._answered(body)
        except OSError:
            return
