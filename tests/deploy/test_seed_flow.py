"""The seed's whole flow on one machine: ``lamina serve``, ``lamina deploy``, ``aws lambda invoke``.

Real processes: lamina serve and every client run as subprocesses on 127.0.0.1, as a user would.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from lamina.local.sandbox.bubblewrap import bwrap_works
from tests.conftest import free_port, stop_process, wait_for_port

from .conftest import cli_env, running

BIN = Path(sys.executable).parent
HANDLER = """\
import lamina.runtime


def handler(event, context):
    return {"greeting": %r, "runtime": lamina.runtime.__file__}
"""


class LaminaServe:
    """``lamina serve`` in a subprocess on a free port, restartable on the same data directory."""

    def __init__(self, cwd: Path, data_dir: Path, sandbox: str = "path") -> None:
        self.cwd, self.data_dir = cwd, data_dir
        self.sandbox = sandbox  # LAMINA_SANDBOX: path (any machine) or bwrap (where bubblewrap works)
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = cwd / "serve.log"

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(
                [str(BIN / "lamina"), "serve", "--port", str(self.port), "--data-dir", str(self.data_dir)],
                cwd=self.cwd, env={**cli_env(), "LAMINA_SANDBOX": self.sandbox}, stdout=log,
                stderr=subprocess.STDOUT, start_new_session=True)
        wait_for_port(self.port, timeout=30, proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None:
            stop_process(self.proc)
            self.proc = None


@pytest.fixture
def lamina_serve(tmp_path: Path) -> Iterator[LaminaServe]:
    with running(LaminaServe(tmp_path, tmp_path / "data")) as server:
        yield server


@pytest.fixture
def lamina_serve_bwrap(tmp_path: Path) -> Iterator[LaminaServe]:
    if not bwrap_works():
        pytest.skip("bubblewrap is not installed or cannot mount on this machine")
    with running(LaminaServe(tmp_path, tmp_path / "data", sandbox="bwrap")) as server:
        yield server


def run(*argv: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(argv), cwd=cwd, env=cli_env(), capture_output=True, text=True, timeout=120)


def write_function(cwd: Path, source: str) -> None:
    """The function ``hello``: ``hello/app.py`` under ``cwd``."""
    (cwd / "hello").mkdir(exist_ok=True)
    (cwd / "hello" / "app.py").write_text(source)


def write_layer(cwd: Path, shared: str) -> None:
    """A layer directory ``common`` whose ``python/shared.py`` holds ``shared``."""
    (cwd / "common" / "python").mkdir(parents=True)
    (cwd / "common" / "python" / "shared.py").write_text(shared)


def deploy(server: LaminaServe, cwd: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """``lamina deploy hello`` (with ``flags``, e.g. ``--layer common``) against ``server``; must succeed."""
    result = run(str(BIN / "lamina"), "deploy", "hello", "--code", "hello", "--handler", "app.handler",
                 *flags, "--endpoint-url", server.url, cwd=cwd)
    assert result.returncode == 0, result.stderr + server.log.read_text()
    return result


def aws_invoke(server: LaminaServe, cwd: Path) -> dict[str, str]:
    out = cwd / "out.json"
    result = run(str(BIN / "aws"), "lambda", "invoke", "--endpoint-url", server.url, "--function-name",
                 "hello", "--payload", '{"name": "seed"}', str(out), cwd=cwd)
    assert result.returncode == 0, result.stderr + server.log.read_text()
    assert json.loads(result.stdout)["StatusCode"] == 200
    return dict(json.loads(out.read_text()))


def test_deploy_invoke_change_deploy_invoke_restart_delete_against_lamina_serve(
        lamina_serve: LaminaServe, tmp_path: Path) -> None:
    write_function(tmp_path, HANDLER % "hello")

    first = deploy(lamina_serve, tmp_path)
    assert first.stdout.strip() == "arn:aws:lambda:us-east-1:123456789012:function:hello"
    assert "publishing layer lamina-runtime" in first.stderr
    answer = aws_invoke(lamina_serve, tmp_path)
    assert answer["greeting"] == "hello"
    # provided.al2023: the bootstrap and the runtime come from the layer just published, merged as /opt
    runtime_file = Path(answer["runtime"]).resolve()
    assert (lamina_serve.data_dir / "opt").resolve() in runtime_file.parents, runtime_file

    write_function(tmp_path, HANDLER % "bonjour")
    second = deploy(lamina_serve, tmp_path)
    assert "layer lamina-runtime unchanged" in second.stderr and "uploading code" in second.stderr
    assert aws_invoke(lamina_serve, tmp_path)["greeting"] == "bonjour"

    lamina_serve.stop()
    lamina_serve.start()
    assert aws_invoke(lamina_serve, tmp_path)["greeting"] == "bonjour", "deployed functions survive a restart"
    unchanged = deploy(lamina_serve, tmp_path)
    assert "nothing uploaded" in unchanged.stderr

    remote = run(str(BIN / "lamina"), "invoke", "--remote", "hello", "--event", '{"x": 1}', "--endpoint-url",
                 lamina_serve.url, cwd=tmp_path)
    assert remote.returncode == 0 and json.loads(remote.stdout)["greeting"] == "bonjour"
    assert "REPORT RequestId:" in remote.stderr

    deleted = run(str(BIN / "aws"), "lambda", "delete-function", "--endpoint-url", lamina_serve.url,
                  "--function-name", "hello", cwd=tmp_path)
    assert deleted.returncode == 0, deleted.stderr
    gone = run(str(BIN / "aws"), "lambda", "invoke", "--endpoint-url", lamina_serve.url, "--function-name",
               "hello", str(tmp_path / "out.json"), cwd=tmp_path)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr and "Function not found" in gone.stderr


def test_remote_invoke_exits_1_on_a_function_error(lamina_serve: LaminaServe, tmp_path: Path) -> None:
    write_function(tmp_path, "def handler(event, context):\n    raise ValueError('no')\n")
    deploy(lamina_serve, tmp_path)
    result = run(str(BIN / "lamina"), "invoke", "--remote", "hello", "--event", "{}", "--endpoint-url",
                 lamina_serve.url, cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout)["errorType"] == "ValueError"
    assert "[ERROR] ValueError: no" in result.stderr


def test_python_function_imports_from_its_layer_and_sees_bin_and_lib_paths(lamina_serve: LaminaServe,
                                                                           tmp_path: Path) -> None:
    write_function(
        tmp_path,
        "import os, shared\n"
        "def handler(event, context):\n"
        "    return {'shared': shared.VALUE, 'path': os.environ['PATH'],\n"
        "            'ld': os.environ.get('LD_LIBRARY_PATH', ''), 'root': os.environ['LAMBDA_TASK_ROOT'],\n"
        "            'cwd': os.getcwd()}\n")
    write_layer(tmp_path, "VALUE = 'from the layer'\n")
    deploy(lamina_serve, tmp_path, "--runtime", "python3.12", "--layer", "common")
    answer = aws_invoke(lamina_serve, tmp_path)
    opt = Path(answer["path"].split(":")[0])
    assert answer["shared"] == "from the layer"
    assert opt.name == "bin" and (lamina_serve.data_dir / "opt").resolve() in opt.resolve().parents
    assert str(opt.parent / "lib") in answer["ld"].split(":")
    assert Path(answer["root"]).resolve() == Path(answer["cwd"]).resolve()
    assert (Path(answer["root"]) / "app.py").is_file()


def test_under_bubblewrap_code_is_read_only_var_task_and_layers_are_opt(lamina_serve_bwrap: LaminaServe,
                                                                        tmp_path: Path) -> None:
    write_function(
        tmp_path,
        "import os, shared, lamina.runtime\n"
        "def handler(event, context):\n"
        "    try:\n"
        "        open('/var/task/written', 'w').close()\n"
        "        writable = True\n"
        "    except OSError:\n"
        "        writable = False\n"
        "    return {'shared': shared.__file__, 'root': os.environ['LAMBDA_TASK_ROOT'], 'cwd': os.getcwd(),\n"
        "            'writable': writable, 'runtime': lamina.runtime.__file__}\n")
    write_layer(tmp_path, "VALUE = 1\n")
    deploy(lamina_serve_bwrap, tmp_path, "--layer", "common")
    answer = aws_invoke(lamina_serve_bwrap, tmp_path)
    assert "root" in answer, f"{answer}\n{lamina_serve_bwrap.log.read_text()}"
    assert (answer["root"], answer["cwd"], answer["writable"]) == ("/var/task", "/var/task", False)
    assert answer["shared"] == "/opt/python/shared.py"
    assert answer["runtime"].startswith("/opt/python/lamina/runtime/"), "lamina's layer runs the function"
    assert "bubblewrap" in lamina_serve_bwrap.log.read_text()
