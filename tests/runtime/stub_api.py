"""A small, fast, scriptable Runtime API for testing and benchmarking runtimes in isolation.

It serves queued events on ``GET /runtime/invocation/next``, records every post, and can be told to
misbehave (error statuses, dropped connections) to test a runtime's error paths. Raw sockets, one thread
per connection and TCP_NODELAY keep its own cost per invocation small, so benchmarks measure the runtime.
"""

from __future__ import annotations

import queue
import socket
import threading
import time
import uuid
from dataclasses import dataclass, field
from typing import Dict, List, Optional, Tuple

REFUSED = b'{"errorMessage":"refused by the stub","errorType":"Refused"}'


@dataclass
class Post:
    path: str
    headers: Dict[str, str]
    body: bytes
    trailers: Dict[str, str] = field(default_factory=dict)
    size: int = 0


@dataclass
class StubRuntimeAPI:
    """Start with ``with StubRuntimeAPI() as api:``; ``api.address`` goes into AWS_LAMBDA_RUNTIME_API."""

    next_status: int = 200
    post_status: int = 202
    drop_next: bool = False
    count_only: bool = False  # streamed bodies: count bytes instead of keeping them
    events: queue.Queue[Tuple[str, bytes, Dict[str, str]]] = field(default_factory=queue.Queue)
    posts: List[Post] = field(default_factory=list)
    live_chunks: List[int] = field(default_factory=list)  # sizes of streamed chunks, as they arrive
    polls: int = 0

    def __post_init__(self) -> None:
        self._server = socket.socket()
        self._server.bind(("127.0.0.1", 0))
        self._server.listen(64)
        self.port = self._server.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._closed = threading.Event()
        self._posted = threading.Condition()
        self._wanted = 0
        self._threads: List[threading.Thread] = []

    def __enter__(self) -> StubRuntimeAPI:
        thread = threading.Thread(target=self._accept, daemon=True)
        thread.start()
        self._threads.append(thread)
        return self

    def __exit__(self, *exc: object) -> None:
        self._closed.set()
        self._server.close()

    # -- scripting ---------------------------------------------------------------------------------

    def enqueue(self, body: bytes = b"{}", headers: Optional[Dict[str, str]] = None,
                request_id: Optional[str] = None) -> str:
        request_id = request_id or str(uuid.uuid4())
        base = {"Content-Type": "application/json", "Lambda-Runtime-Aws-Request-Id": request_id,
                "Lambda-Runtime-Deadline-Ms": str(int(time.time() * 1000) + 60_000),
                "Lambda-Runtime-Invoked-Function-Arn": "arn:aws:lambda:us-east-1:123456789012:function:f"}
        base.update(headers or {})
        self.events.put((request_id, body, base))
        return request_id

    def wait_chunks(self, count: int, timeout: float = 10.0) -> None:
        with self._posted:
            if not self._posted.wait_for(lambda: len(self.live_chunks) >= count, timeout):
                raise TimeoutError(f"expected {count} streamed chunks, got {len(self.live_chunks)}")

    def wait_posts(self, count: int, timeout: float = 10.0) -> List[Post]:
        with self._posted:
            self._wanted = count
            if not self._posted.wait_for(lambda: len(self.posts) >= count, timeout):
                raise TimeoutError(f"expected {count} posts, got {len(self.posts)}: {self.posts}")
            return list(self.posts)

    # -- serving -----------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                conn, _ = self._server.accept()
            except OSError:
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            thread = threading.Thread(target=self._serve, args=(conn,), daemon=True)
            thread.start()

    def _serve(self, conn: socket.socket) -> None:
        reader = conn.makefile("rb")
        try:
            while not self._closed.is_set():
                request_line = reader.readline()
                if not request_line:
                    return
                method, path, _ = request_line.decode("latin-1").split(" ", 2)
                headers = {}
                while True:
                    line = reader.readline()
                    if line in (b"\r\n", b""):
                        break
                    name, _, value = line.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                post = Post(path, headers, b"")
                if headers.get("transfer-encoding", "").lower() == "chunked":
                    self._read_chunked(reader, post)
                elif "content-length" in headers:
                    post.body = reader.read(int(headers["content-length"]))
                if method == "GET" and path.endswith("/invocation/next"):
                    if not self._answer_next(conn):
                        return
                elif method == "GET" and path.endswith("/restore/next"):
                    self._record(post)
                    conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
                else:
                    self._record(post)
                    status = self.post_status
                    body = b'{"status":"OK"}' if status == 202 else REFUSED
                    conn.sendall(b"HTTP/1.1 %d X\r\nContent-Type: application/json\r\n"
                                 b"Content-Length: %d\r\n\r\n" % (status, len(body)) + body)
        except OSError:
            return
        finally:
            conn.close()

    def _read_chunked(self, reader, post: Post) -> None:  # type: ignore[no-untyped-def]
        parts = []
        while True:
            size = int(reader.readline().split(b";")[0], 16)
            if size == 0:
                break
            data = reader.read(size)
            post.size += len(data)
            if not self.count_only:
                parts.append(data)
            with self._posted:
                self.live_chunks.append(len(data))
                self._posted.notify_all()
            reader.readline()
        while True:
            line = reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            post.trailers[name.strip().lower()] = value.strip()
        post.body = b"".join(parts)

    def _answer_next(self, conn: socket.socket) -> bool:
        self.polls += 1
        while True:
            try:
                _request_id, body, headers = self.events.get(timeout=0.2)
                break
            except queue.Empty:
                if self._closed.is_set():
                    return False
        if self.drop_next:
            return False
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        conn.sendall(f"HTTP/1.1 {self.next_status} X\r\n{head}Content-Length: {len(body)}\r\n\r\n".encode()
                     + body)
        return True

    def _record(self, post: Post) -> None:
        with self._posted:
            self.posts.append(post)
            # Wake the waiting test only when its count is reached: waking it on every post would
            # make this stub, not the runtime under test, the bottleneck of a loop benchmark.
            if len(self.posts) >= self._wanted:
                self._posted.notify_all()
