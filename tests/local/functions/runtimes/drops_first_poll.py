"""A custom runtime whose first ``next`` is cut off (its connection closed while the poll waits); it
then polls again on a new connection and answers every invocation with how many polls it made."""

import http.client
import json
import os
import socket
import time

host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].split(":")
PATH = "/2018-06-01/runtime/invocation"

dropped = socket.create_connection((host, int(port)))
dropped.sendall(f"GET {PATH}/next HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
time.sleep(0.3)  # parked: no invocation yet
dropped.close()
time.sleep(0.2)

connection = http.client.HTTPConnection(host, int(port))
polls = 1
while True:
    connection.request("GET", f"{PATH}/next")
    response = connection.getresponse()
    event = response.read()
    polls += 1
    if response.status != 200:
        raise SystemExit(f"next refused: {response.status} {event!r}")
    request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
    connection.request("POST", f"{PATH}/{request_id}/response", body=json.dumps({"polls": polls}))
    connection.getresponse().read()
