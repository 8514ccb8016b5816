"""The Invoke API's lean front (``lamina.local.api.front``) on a real ``lamina serve``, spoken to in raw
HTTP/1.1 bytes: what it answers itself (the emulator path, Invoke), what it relays to the aiohttp
application (everything else), and that one caller's keep-alive connection carries both."""

from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import socket
import zipfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional

import pytest

from lamina.local.api import event_stream
from tests.conftest import sigv4_headers
from tests.deploy.conftest import ROLE
from tests.local.local_helpers import FIXED_PATH, FUNCTIONS, LaminaServer, lambda_client, lamina_serve

RUNTIME_FUNCTIONS = Path(__file__).resolve().parents[2] / "runtime" / "functions"
# name -> (code directory, handler): "function" is what AWS's emulator path serves.
SERVED = {
    "function": (FUNCTIONS, "handlers.echo"),
    "chunks": (RUNTIME_FUNCTIONS, "streams.chunks"),
    "mebibytes": (FUNCTIONS, "streaming.mebibytes"),
}
LIST_PATH = "/2015-03-31/functions/"
CREATE_PATH = "/2015-03-31/functions"
STREAM_PATH = "/2021-11-15/functions/{name}/response-streaming-invocations"
TIMEOUT = 60.0  # every socket read is bounded by this


def invoke_path(name: str) -> str:
    return f"/2015-03-31/functions/{name}/invocations"


# --- raw HTTP/1.1 -------------------------------------------------------------------------------------


@dataclass
class Answer:
    """One response as read off the wire."""

    status: int
    headers: list[tuple[str, str]]
    body: bytes
    chunked: bool = False
    trailers: dict[str, str] = field(default_factory=dict)

    def header(self, name: str) -> Optional[str]:
        values = [value for key, value in self.headers if key.lower() == name.lower()]
        return ", ".join(values) if values else None

    def has(self, name: str) -> bool:
        return self.header(name) is not None

    def json(self) -> Any:
        return json.loads(self.body)


class RawConnection:
    """One TCP connection to the server: raw requests out, responses parsed by their framing."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)
        self._buffer = bytearray()

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self) -> bool:
        data = self.sock.recv(65536)
        self._buffer += data
        return bool(data)

    def _line(self) -> bytes:
        while (end := self._buffer.find(b"\r\n")) < 0:
            if not self._fill():
                raise ConnectionError(f"connection closed mid-line: {bytes(self._buffer)!r}")
        line = bytes(self._buffer[:end])
        del self._buffer[:end + 2]
        return line

    def _exact(self, size: int) -> bytes:
        while len(self._buffer) < size:
            if not self._fill():
                raise ConnectionError(f"connection closed with {len(self._buffer)} of {size} bytes")
        data = bytes(self._buffer[:size])
        del self._buffer[:size]
        return data

    def _fields(self) -> list[tuple[str, str]]:
        fields = []
        while line := self._line():
            name, _, value = line.decode("latin-1").partition(":")
            fields.append((name.strip(), value.strip()))
        return fields

    def answer(self, method: str = "POST") -> Answer:
        """The next response (interim 1xx ones skipped), its body read by its own framing."""
        while True:
            status = int(self._line().split(b" ", 2)[1])
            headers = self._fields()
            if not 100 <= status < 200:
                break
        answer = Answer(status, headers, b"")
        if method == "HEAD" or status in (204, 304):
            return answer
        if "chunked" in (answer.header("Transfer-Encoding") or "").lower():
            answer.chunked = True
            parts = []
            while size := int(self._line().split(b";", 1)[0], 16):
                parts.append(self._exact(size))
                assert self._exact(2) == b"\r\n", "a chunk not ended by CRLF"
            answer.body = b"".join(parts)
            answer.trailers = dict(self._fields())
        elif (length := answer.header("Content-Length")) is not None:
            answer.body = self._exact(int(length))
        else:  # delimited by the connection's end
            while self._fill():
                pass
            answer.body, self._buffer = bytes(self._buffer), bytearray()
        return answer

    def answer_head_status(self) -> int:
        """The next response's status, the rest left unread."""
        return int(self._line().split(b" ", 2)[1])

    def exchange(self, data: bytes, method: str = "POST") -> Answer:
        self.send(data)
        return self.answer(method)

    def closed_by_server(self) -> bool:
        """Whether the server ended the connection (reads its end; waits at most ``TIMEOUT``)."""
        if self._buffer:
            return False
        try:
            return self.sock.recv(1) == b""
        except ConnectionResetError:
            return True

    def open_now(self) -> bool:
        """Whether the connection is open with nothing unread, without waiting."""
        if self._buffer:
            return True
        self.sock.setblocking(False)
        try:
            return self.sock.recv(1, socket.MSG_PEEK) != b""
        except BlockingIOError:
            return True
        except ConnectionError:
            return False
        finally:
            self.sock.settimeout(TIMEOUT)


def request(port: int, method: str, target: str, body: bytes = b"", *,
            headers: Optional[dict[str, str]] = None, signed: bool = False,
            chunks: Optional[Sequence[bytes]] = None, version: str = "HTTP/1.1",
            host: Optional[str] = None) -> bytes:
    """A request's bytes; ``signed``: with SigV4 as boto3 signs; ``chunks``: the body sent chunked."""
    fields = dict(headers or {})
    if chunks is not None:
        body = b"".join(chunks)
    if signed:
        fields = sigv4_headers(method, f"http://127.0.0.1:{port}{target}", body, fields)
    lines = [f"{method} {target} {version}", f"Host: {host or f'127.0.0.1:{port}'}"]
    lines += [f"{name}: {value}" for name, value in fields.items()]
    if chunks is not None:
        lines.append("Transfer-Encoding: chunked")
        encoded = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for chunk in chunks) + b"0\r\n\r\n"
    else:
        if body or method in ("POST", "PUT"):
            lines.append(f"Content-Length: {len(body)}")
        encoded = body
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + encoded


def _zip(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in files.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _create_body(name: str, code: bytes) -> bytes:
    return json.dumps({"FunctionName": name, "Role": ROLE, "Runtime": "python3.12", "Handler": "app.handler",
                       "Code": {"ZipFile": base64.b64encode(code).decode()}}).encode()


APP = b"def handler(event, context):\n    return {'app': event}\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LaminaServer]:
    project = tmp_path_factory.mktemp("front")
    (project / "lamina.toml").write_text("".join(
        f'[functions.{name}]\ncode = "{code}"\nhandler = "{handler}"\ntimeout = 30\n\n'
        for name, (code, handler) in SERVED.items()))
    with lamina_serve(["--no-watch", "--data-dir", str(project / "data")], project, cwd=project) as running:
        yield running


@pytest.fixture
def connection(server: LaminaServer) -> Iterator[RawConnection]:
    raw = RawConnection(server.port)
    try:
        yield raw
    finally:
        raw.close()


# --- the tests ----------------------------------------------------------------------------------------


@pytest.mark.timeout(120)
def test_one_keep_alive_connection_carries_invokes_and_relayed_requests(server: LaminaServer,
                                                                         connection: RawConnection) -> None:
    port = server.port
    first = connection.exchange(request(port, "POST", FIXED_PATH, b'{"n": 1}'))
    assert (first.status, first.json()) == (200, {"n": 1})
    assert not first.has("Connection")

    listed = connection.exchange(request(port, "GET", LIST_PATH), "GET")  # relayed to aiohttp
    assert listed.status == 200
    assert isinstance(listed.json()["Functions"], list)
    assert listed.header("Connection") is None, "the relay's own Connection: close reached the caller"
    assert listed.has("Content-Length") or listed.chunked

    signed = connection.exchange(request(port, "POST", invoke_path("function"), b'{"n": 2}', signed=True))
    assert (signed.status, signed.json()) == (200, {"n": 2})
    assert signed.header("X-Amz-Executed-Version") == "$LATEST"

    refused = connection.exchange(request(port, "POST", CREATE_PATH, b"{}"))  # relayed refusal: unsigned
    assert refused.status == 403
    assert refused.header("X-Amzn-ErrorType") == "MissingAuthenticationTokenException"
    assert refused.header("Connection") is None

    last = connection.exchange(request(port, "POST", FIXED_PATH, b'{"n": 3}'))
    assert (last.status, last.json()) == (200, {"n": 3})
    assert connection.open_now()


@pytest.mark.timeout(120)
def test_pipelined_invokes_and_relayed_requests_are_answered_in_order(server: LaminaServer,
                                                                       connection: RawConnection) -> None:
    port = server.port
    connection.send(request(port, "POST", FIXED_PATH, b'"a"') + request(port, "GET", LIST_PATH)
                    + request(port, "POST", FIXED_PATH, b'"b"') + request(port, "HEAD", LIST_PATH)
                    + request(port, "POST", FIXED_PATH, b'"c"'))
    assert connection.answer().json() == "a"
    assert "Functions" in connection.answer("GET").json()
    assert connection.answer().json() == "b"
    head = connection.answer("HEAD")  # the app routes no HEAD here: 405, no body whatever its length says
    assert head.status == 405 and head.header("Connection") is None
    assert connection.answer().json() == "c"
    assert connection.open_now()


@pytest.mark.timeout(120)
def test_chunked_request_bodies_arrive_whole_relayed_and_on_the_invoke_route(
        server: LaminaServer, connection: RawConnection) -> None:
    port = server.port
    payload = json.dumps({"text": "x" * 300_000, "tail": "end"}).encode()
    pieces = [payload[i:i + 70_001] for i in range(0, len(payload), 70_001)]
    echoed = connection.exchange(request(port, "POST", invoke_path("function"), signed=True, chunks=pieces))
    assert echoed.status == 200
    assert echoed.json() == json.loads(payload)

    code = _zip({"app.py": APP, "pad.bin": os.urandom(200_000)})
    body = _create_body("chunked-create", code)
    created = connection.exchange(request(port, "POST", CREATE_PATH, signed=True,
                                          chunks=[body[i:i + 65_536] for i in range(0, len(body), 65_536)],
                                          headers={"Content-Type": "application/json"}))
    try:
        assert created.status == 201, created.body
        document = created.json()
        assert document["CodeSize"] == len(code)
        assert document["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
        assert created.header("Connection") is None
        after = connection.exchange(request(port, "POST", FIXED_PATH, b'"after"'))
        assert after.json() == "after"
    finally:
        lambda_client(port).delete_function(FunctionName="chunked-create")


@pytest.mark.timeout(180)
def test_boto3_end_to_end_with_a_large_relayed_create_function(server: LaminaServer) -> None:
    client = lambda_client(server.port, read_timeout=60)
    code = _zip({"app.py": APP, "blob.bin": os.urandom(4 * 1024 * 1024)})  # ~5.6 MB of JSON once base64
    created = client.create_function(FunctionName="big", Role=ROLE, Runtime="python3.12",
                                     Handler="app.handler", Code={"ZipFile": code})
    try:
        assert created["CodeSize"] == len(code)
        assert created["CodeSha256"] == base64.b64encode(hashlib.sha256(code).digest()).decode()
        client.get_waiter("function_active_v2").wait(FunctionName="big")
        answer = client.invoke(FunctionName="big", Payload=b'{"k": "v"}')
        assert answer["StatusCode"] == 200
        assert json.loads(answer["Payload"].read()) == {"app": {"k": "v"}}
        got = client.get_function(FunctionName="big")
        assert got["Configuration"]["CodeSize"] == len(code)
    finally:
        client.delete_function(FunctionName="big")
    names = {f["FunctionName"] for f in client.list_functions()["Functions"]}
    assert "big" not in names


@pytest.mark.timeout(120)
def test_a_refusal_answered_before_a_large_body_is_read_keeps_the_connection(
        server: LaminaServer, connection: RawConnection) -> None:
    port = server.port
    big = json.dumps({"FunctionName": "refused", "pad": "p" * 5_000_000}).encode()
    for headers, error in (({}, "MissingAuthenticationTokenException"),
                           ({"Origin": "http://evil.example"}, "AccessDeniedException")):
        refused = connection.exchange(request(port, "POST", CREATE_PATH, big, headers=headers))
        assert (refused.status, refused.header("X-Amzn-ErrorType")) == (403, error)
        assert refused.header("Connection") is None
    after = connection.exchange(request(port, "POST", FIXED_PATH, b'"after-refusals"'))
    assert after.json() == "after-refusals"


@pytest.mark.timeout(120)
def test_invoke_by_encoded_arn_with_a_qualifier_is_answered(server: LaminaServer,
                                                           connection: RawConnection) -> None:
    arn = "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Afunction"
    answer = connection.exchange(request(server.port, "POST", invoke_path(arn) + "?Qualifier=%24LATEST",
                                         b'"by-arn"', signed=True))
    assert (answer.status, answer.json()) == (200, "by-arn")
    missing = connection.exchange(request(server.port, "POST", invoke_path("no-such-function"), b"{}",
                                          signed=True))
    assert (missing.status, missing.header("X-Amzn-ErrorType")) == (404, "ResourceNotFoundException")
    assert connection.exchange(request(server.port, "POST", FIXED_PATH, b'"next"')).json() == "next"


@pytest.mark.timeout(120)
def test_dry_run_is_204_without_length_or_body_and_event_is_202(server: LaminaServer,
                                                               connection: RawConnection) -> None:
    port = server.port
    dry = connection.exchange(request(port, "POST", invoke_path("function"), b"{}", signed=True,
                                      headers={"X-Amz-Invocation-Type": "DryRun"}))
    assert dry.status == 204
    assert not dry.has("Content-Length") and not dry.has("Transfer-Encoding")
    assert dry.header("x-amzn-RequestId")
    event = connection.exchange(request(port, "POST", invoke_path("function"), b'{"e": 1}', signed=True,
                                        headers={"X-Amz-Invocation-Type": "Event"}))
    # Had the 204 carried a body, its bytes would stand where this status line is read.
    assert event.status == 202
    assert event.header("Content-Length") == "0" and event.body == b""
    after = connection.exchange(request(port, "POST", FIXED_PATH, b'"next"'))
    assert after.json() == "next"

    client = lambda_client(port)
    assert client.invoke(FunctionName="function", InvocationType="DryRun")["StatusCode"] == 204
    assert client.invoke(FunctionName="function", InvocationType="Event", Payload=b"{}")["StatusCode"] == 202


@pytest.mark.timeout(120)
def test_origin_and_foreign_host_are_refused_in_aws_error_shape(server: LaminaServer,
                                                               connection: RawConnection) -> None:
    port = server.port
    for target, signed in ((FIXED_PATH, False), (invoke_path("function"), True)):
        refused = connection.exchange(request(port, "POST", target, b'{"x": 1}', signed=signed,
                                              headers={"Origin": "http://evil.example",
                                                       "Content-Type": "text/plain"}))
        assert refused.status == 403
        assert refused.header("X-Amzn-ErrorType") == "AccessDeniedException"
        document = refused.json()
        assert document["Type"] == "User" and "http://evil.example" in document["Message"]
        assert not refused.has("Access-Control-Allow-Origin")
        assert refused.header("Connection") is None

    for target, signed in ((FIXED_PATH, False), (invoke_path("function"), True)):
        foreign = connection.exchange(request(port, "POST", target, b"{}", signed=signed,
                                              host=f"rebind.evil.example:{port}"))
        assert (foreign.status, foreign.header("X-Amzn-ErrorType")) == (403, "AccessDeniedException")
        assert "rebind.evil.example" in foreign.json()["Message"]
    still = connection.exchange(request(port, "POST", FIXED_PATH, b'"ok"'))
    assert still.json() == "ok"


@pytest.mark.timeout(120)
def test_invoke_with_response_stream_is_relayed(server: LaminaServer, connection: RawConnection) -> None:
    client = lambda_client(server.port)
    response = client.invoke_with_response_stream(FunctionName="function", Payload=b'{"s": 1}')
    events = list(response["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in events if "PayloadChunk" in e) == b'{"s": 1}'
    assert events[-1] == {"InvokeComplete": {}}
    streamed = list(client.invoke_with_response_stream(FunctionName="chunks")["EventStream"])
    assert b"".join(e["PayloadChunk"]["Payload"] for e in streamed if "PayloadChunk" in e) \
        == b"first,second,third"

    # On a raw keep-alive connection: the relayed event stream, then an invoke behind it.
    port = server.port
    answer = connection.exchange(request(port, "POST", STREAM_PATH.format(name="chunks"), b"{}", signed=True))
    assert answer.status == 200
    assert answer.header("Content-Type") == event_stream.CONTENT_TYPE
    messages, rest = event_stream.decode(answer.body)
    assert rest == b""
    assert b"".join(m.payload for m in messages
                    if m.headers.get(":event-type") == event_stream.PAYLOAD_CHUNK) == b"first,second,third"
    assert answer.chunked and answer.header("Connection") is None  # aiohttp's chunks, kept alive
    after = connection.exchange(request(port, "POST", FIXED_PATH, b'"after-stream"'))
    assert after.json() == "after-stream"


@pytest.mark.timeout(120)
def test_invoke_of_a_streaming_function_answers_chunked_with_trailers(server: LaminaServer,
                                                                     connection: RawConnection) -> None:
    port = server.port
    answer = connection.exchange(request(port, "POST", invoke_path("chunks"), b"{}", signed=True,
                                         headers={"X-Amz-Log-Type": "Tail"}))
    assert answer.status == 200
    assert answer.chunked and not answer.has("Content-Length")
    assert answer.body == b"first,second,third"
    assert "X-Amz-Log-Result" in (answer.header("Trailer") or "")
    assert "REPORT RequestId: " in base64.b64decode(answer.trailers["X-Amz-Log-Result"]).decode()
    assert "X-Amz-Function-Error" not in answer.trailers
    plain = connection.exchange(request(port, "POST", invoke_path("chunks"), b"{}", signed=True))
    assert plain.chunked and plain.body == b"first,second,third" and plain.trailers == {}
    after = connection.exchange(request(port, "POST", FIXED_PATH, b'"after-chunked"'))
    assert after.json() == "after-chunked"


@pytest.mark.timeout(120)
def test_a_caller_leaving_mid_relay_leaves_the_server_serving(server: LaminaServer) -> None:
    port = server.port
    body = _create_body("never-created", _zip({"app.py": APP}))
    head = request(port, "POST", CREATE_PATH, body, signed=True)[:-len(body)]
    # Mid-body, length-delimited, then gone.
    gone = RawConnection(port)
    gone.send(head + body[:len(body) // 2])
    gone.close()
    # Mid-body, chunked, then gone.
    gone = RawConnection(port)
    signed = sigv4_headers("POST", f"http://127.0.0.1:{port}{CREATE_PATH}", body)
    gone.send((f"POST {CREATE_PATH} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               + "".join(f"{name}: {value}\r\n" for name, value in signed.items())
               + "Transfer-Encoding: chunked\r\n\r\n").encode() + b"%x\r\n%s\r\n" % (100, body[:100]))
    gone.close()
    # Whole request sent, gone before reading the relayed answer.
    gone = RawConnection(port)
    gone.send(request(port, "GET", LIST_PATH))
    gone.close()
    # Gone a few bytes into a long streamed answer: relayed (InvokeWithResponseStream), then the front's own.
    for target in (STREAM_PATH.format(name="mebibytes"), invoke_path("mebibytes")):
        gone = RawConnection(port)
        try:
            gone.send(request(port, "POST", target, b'{"mib": 8}', signed=True))
            assert gone.answer_head_status() == 200
        finally:
            gone.close()

    fresh = RawConnection(port)
    try:
        listed = fresh.exchange(request(port, "GET", LIST_PATH), "GET")
        assert listed.status == 200
        assert "never-created" not in {f["FunctionName"] for f in listed.json()["Functions"]}
        invoked = fresh.exchange(request(port, "POST", FIXED_PATH, b'"still-serving"'))
        assert invoked.json() == "still-serving"
        streamed = fresh.exchange(request(port, "POST", invoke_path("mebibytes"), b'{"mib": 2}', signed=True))
        assert streamed.body == b"z" * (2 * 1024 * 1024) and streamed.trailers == {}
        relayed = fresh.exchange(request(port, "POST", STREAM_PATH.format(name="mebibytes"), b'{"mib": 2}',
                                         signed=True))
        messages, _ = event_stream.decode(relayed.body)
        assert sum(len(m.payload) for m in messages
                   if m.headers.get(":event-type") == event_stream.PAYLOAD_CHUNK) == 2 * 1024 * 1024
    finally:
        fresh.close()
    assert "handler failed" not in server.logs()


@pytest.mark.timeout(120)
def test_http_1_0_gets_connection_close_and_the_connection_ends(server: LaminaServer) -> None:
    port = server.port
    for data, method in ((request(port, "POST", FIXED_PATH, b'"old"', version="HTTP/1.0"), "POST"),
                         (request(port, "GET", LIST_PATH, version="HTTP/1.0"), "GET")):
        raw = RawConnection(port)
        try:
            answer = raw.exchange(data, method)
            assert answer.status == 200
            assert (answer.header("Connection") or "").lower() == "close"
            assert raw.closed_by_server()
        finally:
            raw.close()
    raw = RawConnection(port)
    try:  # an HTTP/1.1 caller's own Connection: close, on a relayed request
        answer = raw.exchange(request(port, "GET", LIST_PATH, headers={"Connection": "close"}), "GET")
        assert answer.status == 200 and (answer.header("Connection") or "").lower() == "close"
        assert raw.closed_by_server()
    finally:
        raw.close()
    raw = RawConnection(port)
    try:  # HTTP/1.0 asking for keep-alive is answered (the connection may stay or go: both are HTTP)
        answer = raw.exchange(request(port, "POST", FIXED_PATH, b'"ka"', version="HTTP/1.0",
                                      headers={"Connection": "keep-alive"}))
        assert answer.json() == "ka"
    finally:
        raw.close()


def _http_1_0_stream(port: int, target: str) -> tuple[bytes, bytes]:
    """Head and body of a streamed answer to an HTTP/1.0 request, read to the connection's end."""
    raw = RawConnection(port)
    try:
        raw.send(request(port, "POST", target, b"{}", signed=True, version="HTTP/1.0"))
        data = b""
        while chunk := raw.sock.recv(65536):
            data += chunk
    finally:
        raw.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return head, body


# RFC 9112 §6.1: "A server MUST NOT send a response containing Transfer-Encoding unless the
# corresponding request indicates HTTP/1.1 (or later minor revisions)"; an HTTP/1.0 client reads the
# chunk framing as part of the body. A streamed answer to HTTP/1.0 is delimited by the connection's end.
@pytest.mark.timeout(120)
def test_a_streamed_invoke_answers_http_1_0_without_chunked_framing(server: LaminaServer) -> None:
    head, body = _http_1_0_stream(server.port, invoke_path("chunks"))
    assert head.startswith(b"HTTP/1.1 200")
    assert b"transfer-encoding" not in head.lower()
    assert body == b"first,second,third"


@pytest.mark.timeout(120)
def test_a_relayed_stream_answers_http_1_0_without_chunked_framing(server: LaminaServer) -> None:
    head, body = _http_1_0_stream(server.port, STREAM_PATH.format(name="chunks"))
    assert head.split(b" ", 2)[:2] in ([b"HTTP/1.1", b"200"], [b"HTTP/1.0", b"200"])  # aiohttp: the caller's
    assert b"transfer-encoding" not in head.lower()
    messages, rest = event_stream.decode(body)
    assert rest == b"" and b"".join(m.payload for m in messages).startswith(b"first,second,third")
