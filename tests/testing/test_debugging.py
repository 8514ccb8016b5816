"""``lamina invoke --debug-port``: a real DAP exchange with debugpy stops at a breakpoint in a handler."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from lamina.testing.server import free_port
from tests.testing.dap import DapClient

HANDLER = """\
def handler(event, context):
    doubled = event["n"] * 2
    return {"doubled": doubled}
"""
BREAK_LINE = 3  # return {"doubled": doubled}


@pytest.fixture
def code(tmp_path: Path) -> Path:
    (tmp_path / "app.py").write_text(HANDLER)
    return tmp_path


def test_debugger_stops_at_a_breakpoint_in_the_handler_and_the_timeout_waits(code: Path) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "lamina", "invoke", "app.handler", "--code", str(code), "--timeout", "1",
         "--debug-port", str(port), "--event", '{"n": 21}'],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True)
    client = None
    try:
        client = DapClient(port)
        client.wait_for(response_to=client.send("initialize", adapterID="debugpy", clientID="lamina-tests",
                                                pathFormat="path", linesStartAt1=True, columnsStartAt1=True))
        attach = client.send("attach", justMyCode=False)
        client.wait_for(event="initialized")
        source = {"path": str(code / "app.py")}
        answer = client.wait_for(response_to=client.send("setBreakpoints", source=source,
                                                         breakpoints=[{"line": BREAK_LINE}]))
        assert answer["success"]
        client.wait_for(response_to=client.send("configurationDone"))
        client.wait_for(response_to=attach)
        stopped = client.wait_for(event="stopped")
        assert stopped["body"]["reason"] == "breakpoint"
        thread = stopped["body"]["threadId"]
        trace = client.wait_for(response_to=client.send("stackTrace", threadId=thread))
        frames = trace["body"]["stackFrames"]
        assert frames[0]["name"] == "handler" and frames[0]["line"] == BREAK_LINE
        assert Path(frames[0]["source"]["path"]) == code / "app.py"
        # held at the breakpoint past the 1 s timeout: a debugger attached suspends it
        scopes = client.wait_for(response_to=client.send("scopes", frameId=frames[0]["id"]))["body"]["scopes"]
        local = client.wait_for(response_to=client.send(
            "variables", variablesReference=scopes[0]["variablesReference"]))["body"]["variables"]
        assert {v["name"]: v["value"] for v in local}["doubled"] == "42"
        subprocess.run(["sleep", "1.5"], check=True)
        client.send("continue", threadId=thread)
        out, err = process.communicate(timeout=60)
    finally:
        if client is not None:
            client.close()
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err.decode()
    assert json.loads(out) == {"doubled": 42}
    assert b"waits for a debugger on 127.0.0.1" in err and b'"request": "attach"' in err


def test_debug_port_needs_a_python_runtime(code: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "lamina", "invoke", "app.handler", "--code", str(code),
         "--bootstrap", "/bin/sh -c true", "--debug-port", str(free_port())],
        stdin=subprocess.DEVNULL, capture_output=True, timeout=60)
    assert result.returncode == 2
    assert b"debugging needs a Python runtime started as 'python -m MODULE'" in result.stderr


def test_breakpoint_under_invoke_in_a_terminal_opens_pdb_there(tmp_path: Path) -> None:
    import pty
    import select

    (tmp_path / "app.py").write_text("def handler(event, context):\n    breakpoint()\n"
                                     "    return {'n': event['n']}\n")
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "lamina", "invoke", "app.handler", "--code", str(tmp_path), "--timeout", "1",
         "--event", '{"n": 7}'], stdin=terminal, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        start_new_session=True)
    os.close(terminal)
    seen = b""

    def read_until(marker: bytes) -> None:
        nonlocal seen
        while marker not in seen:
            ready, _, _ = select.select([controller], [], [], 30)
            assert ready, f"no {marker!r} on the terminal; got {seen!r}"
            seen += os.read(controller, 4096)

    try:
        read_until(b"(Pdb)")
        os.write(controller, b"p event['n'] * 6\n")
        read_until(b"42")
        subprocess.run(["sleep", "1.5"], check=True)  # past the 1 s timeout: pdb holds the terminal
        os.write(controller, b"c\n")
        out, err = process.communicate(timeout=60)
    finally:
        os.close(controller)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, err.decode()
    assert json.loads(out) == {"n": 7}
