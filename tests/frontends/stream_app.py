"""A streaming handler behind the HTTP front: it finishes only once the client has seen its first chunk."""

import os
import time

import lamina


@lamina.streaming(content_type="text/plain")
def until_marker(event, context):
    """The marker file (query parameter ``marker``) is created by the client after the first chunk."""
    marker = event["queryStringParameters"]["marker"]
    yield b"before-marker;"
    deadline = time.monotonic() + 20
    while not os.path.exists(marker) and time.monotonic() < deadline:
        time.sleep(0.01)
    yield b"after-marker" if os.path.exists(marker) else b"marker-missing"
