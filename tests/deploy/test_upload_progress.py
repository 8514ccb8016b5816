"""Uploads of large zips report their progress while botocore streams the request."""

from __future__ import annotations

import os

from lamina.deploy.upload import upload_progress

from .conftest import ROLE, ControlPlaneServer
from .zips import make_zip


def test_large_upload_reports_bytes_sent_up_to_the_whole_body(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    code = make_zip({"app.py": "def handler(e, c):\n    return 1\n", "blob.bin": os.urandom(1024 * 1024)})
    seen: list[tuple[int, int]] = []
    with upload_progress(client, lambda sent, total: seen.append((sent, total))):
        created = client.create_function(FunctionName="big", Role=ROLE, Runtime="python3.12",
                                         Handler="app.handler", Code={"ZipFile": code})
    assert created["CodeSize"] == len(code)
    assert len(seen) > 1, "progress is reported in steps, not once"
    sent, total = seen[-1]
    assert sent == total > len(code), "the whole JSON body (base64 zip) went through the progress reader"
    assert [s for s, _ in seen] == sorted(s for s, _ in seen)


def test_small_requests_are_sent_as_is(control_plane: ControlPlaneServer) -> None:
    client = control_plane.client()
    seen: list[tuple[int, int]] = []
    with upload_progress(client, lambda sent, total: seen.append((sent, total))):
        client.create_function(FunctionName="small", Role=ROLE, Runtime="python3.12", Handler="app.handler",
                               Code={"ZipFile": make_zip({"app.py": ""})})
    assert seen == []
