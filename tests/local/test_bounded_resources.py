"""``lamina serve`` stays within bounded resources whatever its functions do (issue 11).

Output: a function printing hundreds of megabytes costs serve a few kilobytes (the console gets every
line, the invocation keeps the 4 KB ``LogResult`` returns), and a line without a newline does not stall
other functions. Memory: the sandbox's footprint is measured as Lambda measures it, so idle child
processes sharing their pages are not counted over and over.
"""

from __future__ import annotations

import base64
import json
import textwrap
import threading
import time
from pathlib import Path

from tests.local.local_helpers import FUNCTIONS, LaminaServer, lamina_serve


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field):
            return int(line.split()[1])
    raise AssertionError(f"{field} not in /proc/{pid}/status")


def _platform_lines(log_path: Path, request_id: str) -> list[str]:
    """The platform lines naming ``request_id`` in serve's console log, read without loading it whole."""
    found = []
    with open(log_path, "rb") as log:
        for raw in log:
            if request_id.encode() in raw and len(raw) < 4096:
                found.append(raw.decode().rstrip("\n").split(" | ", 1)[1].split()[0])
    return found


def test_200_mb_of_output_keeps_serve_memory_flat_and_log_result_is_the_last_4_kb(tmp_path: Path) -> None:
    args = ["--code", str(FUNCTIONS), "--handler", "resources.print_output", "--timeout", "60"]
    with lamina_serve(args, tmp_path) as server:
        assert server.invoke(json.dumps({"mb": 1}), timeout=60).status == 200  # warm: imports, buffers
        pid = server.proc.pid
        peak_before = _status_kib(pid, "VmHWM:")
        result = server.invoke(json.dumps({"mb": 200}), headers={"X-Amz-Log-Type": "Tail"}, timeout=120)
        peak_after = _status_kib(pid, "VmHWM:")
        assert result.status == 200 and json.loads(result.body)["written"] == 200 * 1024 * 1024
        request_id = result.headers["x-amzn-RequestId"]
        tail = base64.b64decode(result.headers["X-Amz-Log-Result"])
        assert _platform_lines(server.log_path, request_id) == ["START", "END", "REPORT"]
    assert (peak_after - peak_before) * 1024 < 50 * 1024 * 1024, (peak_before, peak_after)
    assert len(tail) == 4096
    lines = tail.decode().splitlines()
    assert lines[-4:-2] == ["", "the last line of the output"]
    assert lines[-2] == f"END RequestId: {request_id}"
    assert lines[-1].startswith(f"REPORT RequestId: {request_id}\tDuration: ")
    assert set(lines[0]) == {"x"}  # the rest is the function's own output, cut at the front


def _two_functions(tmp_path: Path) -> None:
    (tmp_path / "lamina.toml").write_text(textwrap.dedent(f"""
        [functions.printer]
        code = "{FUNCTIONS}"
        handler = "resources.print_output"
        timeout = 60

        [functions.stamp]
        code = "{FUNCTIONS}"
        handler = "resources.stamp"
    """))


def test_24_mib_without_a_newline_does_not_stall_another_functions_invocations(tmp_path: Path) -> None:
    _two_functions(tmp_path)
    with lamina_serve(["--no-watch", "--data-dir", str(tmp_path / "data")], tmp_path, cwd=tmp_path) as server:
        assert server.invoke(b"{}", name="stamp").status == 200
        assert server.invoke(json.dumps({"mb": 1, "line_kb": 0}), name="printer").status == 200
        printed: dict[str, float] = {}

        def print_24_mib() -> None:
            event = {"mb": 24, "line_kb": 0, "pause_per_mb": 0.02}
            printed.update(json.loads(server.invoke(json.dumps(event), name="printer", timeout=60).body))

        printer = threading.Thread(target=print_24_mib)
        printer.start()
        stamps = _stamps_until(server, printer)
        printer.join()
    during = [at for at in stamps if printed["began"] < at < printed["printed"]]
    # The stamp function answered again and again while the printer's 24 MiB line was being relayed.
    assert len(during) >= 3, (printed, stamps)


def _stamps_until(server: LaminaServer, thread: threading.Thread) -> list[float]:
    stamps: list[float] = []
    deadline = time.monotonic() + 60
    while thread.is_alive() and time.monotonic() < deadline:
        result = server.invoke(b"{}", name="stamp", timeout=30)
        assert result.status == 200
        stamps.append(json.loads(result.body)["at"])
    return stamps


def _max_memory_used(log: str, request_id: str) -> int:
    line = next(line for line in log.splitlines() if f"REPORT RequestId: {request_id}" in line)
    return int(line.split("Max Memory Used: ", 1)[1].split(" MB", 1)[0])


def test_200_idle_children_sharing_pages_are_not_counted_200_times_as_out_of_memory(tmp_path: Path) -> None:
    args = ["--code", str(FUNCTIONS), "--handler", "resources.idle_children", "--memory", "128",
            "--timeout", "30"]
    with lamina_serve(args, tmp_path) as server:
        first = server.invoke(json.dumps({"count": 200}), timeout=60)
        assert first.status == 200 and "X-Amz-Function-Error" not in first.headers, first.body
        children = json.loads(first.body)["children"]
        time.sleep(1.0)  # several memory checks with the 200 children alive
        again = server.invoke(json.dumps({"count": 0}), timeout=60)
        assert "X-Amz-Function-Error" not in again.headers, again.body
        assert json.loads(again.body)["pid"] == json.loads(first.body)["pid"]  # the same environment
        assert all(Path(f"/proc/{child}").exists() for child in children)
        used = _max_memory_used(server.logs(), again.headers["x-amzn-RequestId"])
    assert used < 128


def test_a_function_allocating_beyond_its_memory_size_is_still_out_of_memory(tmp_path: Path) -> None:
    args = ["--code", str(FUNCTIONS), "--handler", "resources.allocate", "--memory", "128", "--timeout", "30"]
    with lamina_serve(args, tmp_path) as server:
        result = server.invoke(json.dumps({"mb": 200, "hold": 10}), timeout=60)
        body = json.loads(result.body)
        assert body["errorType"] == "Runtime.OutOfMemory", body
        assert "Max Memory Used: 128 MB" in server.logs()
