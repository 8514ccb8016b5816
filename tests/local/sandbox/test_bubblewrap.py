"""A deployed function under bubblewrap sees only what Lambda's sandbox offers.

A real ``lamina serve`` in bubblewrap mode, a function deployed with boto3, and the function itself
looking around: its own PID namespace, read-only ``/var/task``, a private ``/tmp`` of its
``EphemeralStorage`` size, and no view of the data directory, the checkout or home directories.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path

import pytest

from lamina.local.sandbox.bubblewrap import bwrap_works
from tests.conftest import ROOT
from tests.local.local_helpers import lambda_client, lamina_serve

pytestmark = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap is not installed or cannot mount here")

LOOK_AROUND = """\
import os, tempfile


def _lists(path):
    try:
        os.listdir(path)
        return True
    except OSError:
        return False


def _writes(path):
    try:
        open(path, "w").close()
        return True
    except OSError:
        return False


def handler(event, context):
    written = 0
    if event.get("fill"):
        chunk = b"0" * (1 << 20)
        with open("/tmp/fill", "wb") as out:
            try:
                while written < (700 << 20):
                    out.write(chunk)
                    out.flush()
                    written += len(chunk)
            except OSError:
                pass
        os.unlink("/tmp/fill")
    return {"processes": sum(name.isdigit() for name in os.listdir("/proc")),
            "data_dir": _lists(event["data_dir"]), "checkout": _lists(event["checkout"]),
            "root_home": sorted(os.listdir("/root")) if os.path.isdir("/root") else [],
            "var_task_writable": _writes("/var/task/x"),
            "tmp_writable": _writes("/tmp/x"), "tempdir": tempfile.gettempdir(), "written_mb": written >> 20}
"""


def _zip(source: str) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source)
    return buffer.getvalue()


def test_deployed_function_sees_only_its_own_sandbox(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with lamina_serve(["--data-dir", str(data_dir)], tmp_path, cwd=tmp_path,
                      env={"LAMINA_SANDBOX": "bwrap"}) as server:
        client = lambda_client(server.port)
        client.create_function(FunctionName="looker", Runtime="python3.12", Handler="app.handler",
                               Role="arn:aws:iam::123456789012:role/r", Code={"ZipFile": _zip(LOOK_AROUND)},
                               Timeout=30, EphemeralStorage={"Size": 512})
        client.get_waiter("function_active_v2").wait(FunctionName="looker")
        event = {"data_dir": str(data_dir), "checkout": str(ROOT), "fill": True}
        answer = client.invoke(FunctionName="looker", Payload=json.dumps(event).encode())
        result = json.loads(answer["Payload"].read())
        log = server.log_path.read_text()
    assert "FunctionError" not in answer, result
    assert result["processes"] <= 4, result  # its own PID namespace: bubblewrap, the runtime
    assert not result["data_dir"] and not result["checkout"], result
    # nothing of the host's home, beyond the path to the interpreter it runs on
    assert set(result["root_home"]) <= {Path(sys.base_prefix).resolve().parts[2]} & {".pyenv"}, result
    assert not result["var_task_writable"] and result["tmp_writable"], result
    assert result["tempdir"] == "/tmp"
    assert 400 <= result["written_mb"] <= 512, result  # /tmp is EphemeralStorage's size, enforced
    assert "bubblewrap: their own PID namespace" in log
    assert (data_dir.stat().st_mode & 0o777) == 0o700
    assert ((data_dir / "lamina.sqlite3").stat().st_mode & 0o777) == 0o600
