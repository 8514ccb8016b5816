"""A minimal HTTP/1.1 client for the Lambda Runtime API, on one keep-alive socket.

Why not ``http.client`` or ``urllib``: importing them pulls in ``email``, ``ssl`` and ``socket``'s enum
tables, tens of milliseconds of cold start for a protocol that is a handful of fixed requests to
127.0.0.1. This client speaks just enough HTTP/1.1 (Content-Length and chunked bodies, keep-alive,
chunked uploads for streamed responses) over the C-level ``_socket`` module, with TCP_NODELAY so small
requests are not held back by Nagle's algorithm.
"""

from __future__ import annotations

import _socket
import sys

from lamina.runtime import protocol

TYPE_CHECKING = False  # typing costs ~5 ms to import: annotations only, never at run time
if TYPE_CHECKING:
    from typing import Callable, Dict, Iterable, List, Optional, Tuple

    Headers = Dict[str, str]


_CRLF = b"\r\n"
_HEAD_END = b"\r\n\r\n"
_RECV_SIZE = 65536
# Results up to this size may carry the request for the next event (see post_response): far under
# every limit Lambda puts on a result, so the post cannot be refused for its size, which would change
# what Lambda reports (AWS's emulator reports a runtime exit, not the size, once next was asked).
# Above it, a round trip is small beside the transfer anyway.
_PIPELINE_UP_TO = 256 * 1024


class RuntimeAPIError(Exception):
    """The Runtime API answered with an unexpected status, or the connection to it failed."""

    def __init__(self, endpoint: str, status: int, body: bytes, reason: str = "") -> None:
        self.endpoint = endpoint
        self.status = status
        self.body = body
        if reason:
            message = f"Request to Lambda Runtime '{endpoint}' endpoint failed. Reason: {reason}"
        else:
            text = body.decode("utf-8", "replace").strip()
            message = (
                f"Request to Lambda Runtime '{endpoint}' endpoint failed. Reason: '{status}'. "
                f"Response body: '{text}'"
            )
        super().__init__(message)


class InvocationRequest:
    """One event from ``GET /runtime/invocation/next``: its headers and raw body."""

    __slots__ = (
        "body",
        "client_context",
        "cognito_identity",
        "content_type",
        "deadline_ms",
        "function_arn",
        "invocation_id",
        "request_id",
        "tenant_id",
        "trace_id",
    )

    def __init__(self, headers: Headers, body: bytes) -> None:
        get = headers.get
        self.request_id: str = get("lambda-runtime-aws-request-id") or ""
        deadline = get("lambda-runtime-deadline-ms")
        self.deadline_ms: int = int(deadline) if deadline and deadline.isdigit() else 0
        self.function_arn: Optional[str] = get("lambda-runtime-invoked-function-arn") or None
        self.trace_id: Optional[str] = get("lambda-runtime-trace-id") or None
        self.client_context: Optional[str] = get("lambda-runtime-client-context") or None
        self.cognito_identity: Optional[str] = get("lambda-runtime-cognito-identity") or None
        self.tenant_id: Optional[str] = get("lambda-runtime-aws-tenant-id") or None
        self.content_type: Optional[str] = get("content-type") or None
        self.invocation_id: Optional[str] = get("lambda-runtime-invocation-id") or None
        self.body = body


def _user_agent() -> str:
    from lamina import __version__

    v = sys.version_info
    return f"lamina/{__version__} (python/{v.major}.{v.minor}.{v.micro})"


class RuntimeAPIClient:
    """Talks to ``http://$AWS_LAMBDA_RUNTIME_API`` over one persistent connection."""

    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"AWS_LAMBDA_RUNTIME_API is not host:port: {address!r}")
        self.address = address
        self._host = host.strip("[]")
        self._port = int(port)
        self._family = _socket.AF_INET6 if ":" in self._host else _socket.AF_INET
        self._sock: Optional[_socket.socket] = None
        self._buf = bytearray()
        self._stream_path = ""
        self._fixed = f"Host: {address}\r\nUser-Agent: {_user_agent()}\r\n".encode("latin-1")
        self._next_request = f"GET {protocol.PATH_NEXT} HTTP/1.1\r\n".encode("latin-1") + self._fixed + _CRLF
        # A ``next`` request already sent behind the last post (see :meth:`post_response`), whose answer
        # is the next thing to read on the connection.
        self._next_sent = False

    # -- the Runtime API ---------------------------------------------------------------------------

    def next_invocation(self, while_waiting: Optional[Callable[[], object]] = None) -> InvocationRequest:
        """The next event; ``while_waiting`` runs once the request is sent, before the answer is read
        (time the Runtime API spends anyway, e.g. to free the previous event)."""
        answer = None
        if self._next_sent:
            answer = self._pipelined_next(while_waiting)
            while_waiting = None
        if answer is None:
            answer = self._request("GET", protocol.PATH_NEXT, (), b"", while_waiting)
        status, headers, body = answer
        if status != 200:
            raise RuntimeAPIError(protocol.PATH_NEXT, status, body)
        return InvocationRequest(headers, body)

    def post_response(self, request_id: str, body: bytes, content_type: str,
                      invocation_id: Optional[str] = None, then_next: bool = False) -> None:
        """Post an invocation's result; with ``then_next``, ask for the next event in the same write.

        The ``next`` request goes out pipelined behind the post (HTTP/1.1 pipelining: the Runtime API
        answers the two in order, Lambda's Go server as any other), so the runtime does not wait a
        round trip for the 202 before asking: one write and one wake-up per invocation instead of two.
        Only small results do it (``_PIPELINE_UP_TO``): they cannot be refused for their size, and the
        invocation is then over for the runtime whatever the answer, so asking early changes nothing
        but time.
        """
        path = protocol.PATH_RESPONSE.format(request_id=request_id)
        headers = [("Content-Type", content_type)]
        if invocation_id:
            headers.append((protocol.HEADER_INVOCATION_ID, invocation_id))
        self._expect_accepted(path, headers, body, then_next)

    def post_error(self, request_id: str, body: bytes, xray_cause: str = "",
                   invocation_id: Optional[str] = None, error_type: str = "",
                   then_next: bool = False) -> None:
        path = protocol.PATH_ERROR.format(request_id=request_id)
        headers = [("Content-Type", "application/json")]
        if error_type:
            headers.append((protocol.HEADER_ERROR_TYPE, error_type))
        if xray_cause:
            headers.append((protocol.HEADER_XRAY_ERROR_CAUSE, xray_cause))
        if invocation_id:
            headers.append((protocol.HEADER_INVOCATION_ID, invocation_id))
        self._expect_accepted(path, headers, body, then_next)

    def post_init_error(self, body: bytes, error_type: str) -> None:
        self._expect_accepted(protocol.PATH_INIT_ERROR, [(protocol.HEADER_ERROR_TYPE, error_type)], body)

    def restore_next(self) -> None:
        status, _, body = self._request("GET", protocol.PATH_RESTORE_NEXT, (), b"")
        if status != 200:
            raise RuntimeAPIError(protocol.PATH_RESTORE_NEXT, status, body)

    def post_restore_error(self, body: bytes, error_type: str) -> None:
        self._expect_accepted(protocol.PATH_RESTORE_ERROR, [(protocol.HEADER_ERROR_TYPE, error_type)], body)

    # -- streamed responses (chunked transfer encoding, flushed chunk by chunk) ----------------------

    def stream_begin(self, request_id: str, content_type: str, invocation_id: Optional[str] = None) -> None:
        """Start a streamed response: headers now, :meth:`stream_write` per chunk, then :meth:`stream_end`."""
        path = protocol.PATH_RESPONSE.format(request_id=request_id)
        lines = [
            f"POST {path} HTTP/1.1\r\n".encode("latin-1"),
            self._fixed,
            f"Content-Type: {content_type}\r\n".encode("latin-1"),
            f"{protocol.HEADER_RESPONSE_MODE}: {protocol.RESPONSE_MODE_STREAMING}\r\n".encode("latin-1"),
            b"Transfer-Encoding: chunked\r\n",
            f"Trailer: {protocol.HEADER_ERROR_TYPE}, {protocol.HEADER_ERROR_BODY}\r\n".encode("latin-1"),
        ]
        if invocation_id:
            lines.append(f"{protocol.HEADER_INVOCATION_ID}: {invocation_id}\r\n".encode("latin-1"))
        lines.append(_CRLF)
        self._stream_path = path
        self._stream_call(lambda sock: sock.sendall(b"".join(lines)), connect=True)

    def stream_write(self, data: bytes) -> None:
        if data:
            self._stream_call(lambda sock: _sendv(sock, [b"%x\r\n" % len(data), data, _CRLF]))

    def stream_end(self, trailers: Iterable[Tuple[str, str]] = ()) -> Tuple[int, bytes]:
        """Finish the stream (with Lambda's error trailers when the function failed mid-stream)."""
        tail = b"0\r\n" + b"".join(f"{k}: {v}\r\n".encode("latin-1") for k, v in trailers) + _CRLF
        self._stream_call(lambda sock: sock.sendall(tail))
        result: List[Tuple[int, Headers, bytes]] = []
        self._stream_call(lambda sock: result.append(self._read_response(sock, "POST")))
        status, headers, body = result[0]
        if headers.get("connection", "").lower() == "close":
            self._close()
        return status, body

    def _stream_call(self, action: Callable[[_socket.socket], object], connect: bool = False) -> None:
        try:
            sock = self._connect() if connect else self._sock
            if sock is None:
                raise OSError("the stream's connection is closed")
            action(sock)
        except (OSError, _StaleConnection) as exc:
            self._close()
            raise RuntimeAPIError(self._stream_path, 0, b"", f"connection failed: {exc}") from None

    # -- HTTP/1.1 ----------------------------------------------------------------------------------

    def _expect_accepted(self, path: str, headers: List[Tuple[str, str]], body: bytes,
                         then_next: bool = False) -> None:
        status, _, response = self._request("POST", path, headers, body, then_next=then_next)
        if status != 202:
            raise RuntimeAPIError(path, status, response)

    def _connect(self) -> _socket.socket:
        sock = self._sock
        if sock is None:
            sock = _socket.socket(self._family, _socket.SOCK_STREAM)
            sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
            try:
                sock.connect((self._host, self._port))
            except OSError:
                sock.close()
                raise
            self._sock = sock
            self._buf.clear()
        return sock

    def _close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
        self._buf.clear()
        self._next_sent = False

    def _pipelined_next(self, while_waiting: Optional[Callable[[], object]],
                        ) -> Optional[Tuple[int, Headers, bytes]]:
        """The answer to the ``next`` request sent behind the last post; None when the connection
        ended before answering it (then it is asked again on a fresh connection, as nothing was served)."""
        self._next_sent = False
        if while_waiting is not None:
            while_waiting()
        sock = self._sock
        if sock is None:
            return None
        try:
            answer = self._read_response(sock, "GET")
        except (_StaleConnection, OSError):
            self._close()
            return None
        if answer[1].get("connection", "").lower() == "close":
            self._close()
        return answer

    def _request(self, method: str, path: str, headers: Iterable[Tuple[str, str]], body: bytes,
                 after_send: Optional[Callable[[], object]] = None,
                 then_next: bool = False) -> Tuple[int, Headers, bytes]:
        head = [f"{method} {path} HTTP/1.1\r\n".encode("latin-1"), self._fixed]
        for name, value in headers:
            head.append(f"{name}: {value}\r\n".encode())
        if method == "POST":
            head.append(b"Content-Length: %d\r\n" % len(body))
        head.append(_CRLF)
        request = b"".join(head)
        parts = [request, body] if body else [request]
        if then_next and len(body) <= _PIPELINE_UP_TO:
            parts.append(self._next_request)
        else:
            then_next = False
        # A keep-alive connection may have been closed by the server while we were busy: if so the
        # failure shows before any response byte, and one retry on a fresh connection is safe.
        for attempt in (0, 1):
            reused = self._sock is not None
            try:
                sock = self._connect()
                if len(parts) > 1:
                    _sendv(sock, parts)
                else:
                    sock.sendall(request)
                if after_send is not None:
                    after_send()
                    after_send = None
                status, response_headers, response = self._read_response(sock, method)
            except _StaleConnection:
                self._close()
                if reused and attempt == 0:
                    continue
                raise RuntimeAPIError(path, 0, b"", "connection closed by the Runtime API") from None
            except OSError as exc:
                self._close()
                if reused and attempt == 0:
                    continue
                raise RuntimeAPIError(path, 0, b"", f"connection failed: {exc}") from exc
            if response_headers.get("connection", "").lower() == "close":
                self._close()  # a pipelined ``next`` is then unanswered: asked again when wanted
            elif then_next:
                self._next_sent = True
            return status, response_headers, response
        raise AssertionError("unreachable")

    def _fill(self, sock: _socket.socket) -> None:
        data = sock.recv(_RECV_SIZE)
        if not data:
            raise _StaleConnection
        self._buf += data

    def _read_response(self, sock: _socket.socket, method: str) -> Tuple[int, Headers, bytes]:
        buf = self._buf
        while True:
            end = buf.find(_HEAD_END)
            if end >= 0:
                break
            self._fill(sock)
        head = bytes(buf[:end]).decode("latin-1")
        del buf[: end + 4]
        status_line, _, rest = head.partition("\r\n")
        parts = status_line.split(" ", 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise OSError(f"malformed HTTP status line {status_line!r}")
        status = int(parts[1])
        headers: Headers = {}
        for line in rest.split("\r\n"):
            name, _, value = line.partition(":")
            headers[name.lower()] = value.strip()  # field names carry no whitespace (RFC 9112 5.1)
        if parts[0] == "HTTP/1.0":
            headers.setdefault("connection", "close")
        if headers.get("transfer-encoding", "").lower() == "chunked":
            return status, headers, self._read_chunked(sock)
        length = headers.get("content-length")
        if length is not None:
            return status, headers, self._read_exact(sock, int(length))
        if status in (204, 304) or 100 <= status < 200:
            return status, headers, b""
        # No length: the body runs to the end of the connection.
        while True:
            try:
                self._fill(sock)
            except _StaleConnection:
                break
        body = bytes(buf)
        headers["connection"] = "close"
        return status, headers, body

    def _read_exact(self, sock: _socket.socket, length: int) -> bytes:
        buf = self._buf
        if len(buf) >= length:
            body = bytes(buf[:length])
            del buf[:length]
            return body
        out = bytearray(length)
        have = len(buf)
        out[:have] = buf
        buf.clear()
        view = memoryview(out)
        while have < length:
            got = sock.recv_into(view[have:])
            if not got:
                raise _StaleConnection
            have += got
        return bytes(out)

    def _read_line(self, sock: _socket.socket) -> bytes:
        buf = self._buf
        while True:
            end = buf.find(_CRLF)
            if end >= 0:
                line = bytes(buf[:end])
                del buf[: end + 2]
                return line
            self._fill(sock)

    def _read_chunked(self, sock: _socket.socket) -> bytes:
        parts: List[bytes] = []
        while True:
            size = int(self._read_line(sock).split(b";", 1)[0], 16)
            if size == 0:
                while self._read_line(sock):  # trailers, up to the blank line
                    pass
                return b"".join(parts)
            parts.append(self._read_exact(sock, size))
            self._read_exact(sock, 2)


def _sendv(sock: _socket.socket, parts: List[bytes]) -> None:
    """Send ``parts`` back to back with scatter/gather I/O: a large body is never copied to be sent."""
    sent = sock.sendmsg(parts)
    for part in parts:
        if sent >= len(part):
            sent -= len(part)
            continue
        sock.sendall(memoryview(part)[sent:])
        sent = 0


class _StaleConnection(Exception):
    """The server closed the connection before a complete response."""


