"""A runtime that opens a streamed response and ends it at once with error trailers and no byte,
over a raw socket (as runtimes in other languages do), then serves the next invocation the same way."""

import base64
import json
import os
import socket

HOST, PORT = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
DOCUMENT = {"errorType": "Function.Oops", "errorMessage": "nothing to stream"}
ERROR = base64.b64encode(json.dumps(DOCUMENT).encode())


def exchange(sock, request):
    sock.sendall(request)
    data = b""
    while b"\r\n\r\n" not in data:
        data += sock.recv(65536)
    head, _, body = data.partition(b"\r\n\r\n")
    length = next((int(line.split(b":")[1]) for line in head.split(b"\r\n")
                   if line.lower().startswith(b"content-length:")), 0)
    while len(body) < length:
        body += sock.recv(65536)
    return head


with socket.create_connection((HOST, int(PORT))) as sock:
    while True:
        head = exchange(sock, b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n")
        request_id = next(line.split(b":", 1)[1].strip() for line in head.split(b"\r\n")
                          if line.lower().startswith(b"lambda-runtime-aws-request-id:"))
        exchange(sock, b"POST /2018-06-01/runtime/invocation/" + request_id + b"/response HTTP/1.1\r\n"
                 b"Host: x\r\nLambda-Runtime-Function-Response-Mode: streaming\r\n"
                 b"Transfer-Encoding: chunked\r\nContent-Type: text/plain\r\n\r\n"
                 b"0\r\nLambda-Runtime-Function-Error-Type: Function.Oops\r\n"
                 b"Lambda-Runtime-Function-Error-Body: " + ERROR + b"\r\n\r\n")
