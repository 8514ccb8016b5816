"""The trailer scanner on raw request bytes, split at every possible point."""

from __future__ import annotations

from lamina.local.runtime_api.trailers import TrailerScanner

STREAMED = (b"POST /2018-06-01/runtime/invocation/r1/response HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\nTrailer: Lambda-Runtime-Function-Error-Type\r\n\r\n"
            b"5\r\nhello\r\n3;ext=1\r\n\r\n\r\r\n0\r\nLambda-Runtime-Function-Error-Type: ValueError\r\n"
            b"Lambda-Runtime-Function-Error-Body: e30=\r\n\r\n")
PLAIN = b"POST /x HTTP/1.1\r\nContent-Length: 12\r\n\r\n0\r\nX-Fake: 1\r\n"
NEXT = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n"
EXPECTED = {"lambda-runtime-function-error-type": "ValueError", "lambda-runtime-function-error-body": "e30="}


def test_scanner_keeps_the_trailers_of_a_chunked_request_at_any_split() -> None:
    data = NEXT + PLAIN + STREAMED + NEXT
    for split in range(len(data)):
        scanner = TrailerScanner()
        scanner.feed(data[:split])
        scanner.feed(data[split:])
        assert scanner.last_trailers == EXPECTED, split


def test_scanner_forgets_trailers_when_the_next_chunked_request_opens() -> None:
    scanner = TrailerScanner()
    scanner.feed(STREAMED)
    opened = STREAMED.split(b"\r\n\r\n", 1)[0] + b"\r\n\r\n5\r\nhel"
    scanner.feed(opened)
    assert scanner.last_trailers is None


def test_a_chunked_request_without_trailers_has_none() -> None:
    scanner = TrailerScanner()
    scanner.feed(b"POST /r HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n" + NEXT)
    assert scanner.last_trailers == {}
