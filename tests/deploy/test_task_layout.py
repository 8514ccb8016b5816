"""A deployed function's code and layers as the local Lambda runs them (path mode, no root needed)."""

from __future__ import annotations

import base64
import os
from pathlib import Path

from lamina.local.api.control_plane.service import ControlPlane
from lamina.local.api.control_plane.store import FunctionStore
from lamina.local.api.control_plane.task import function_config
from lamina.local.sandbox import bubblewrap

from .conftest import ROLE
from .zips import make_zip

BOOT = "#!/bin/sh\necho %s\n"


def deploy(tmp_path: Path, runtime: str, code: dict[str, str], layers: list[dict[str, str]]
           ) -> tuple[FunctionStore, ControlPlane]:
    store = FunctionStore(tmp_path / "data")
    plane = ControlPlane(store)
    arns = []
    for index, files in enumerate(layers):
        zip_bytes = make_zip(files, executable=("bootstrap", "bin/tool"))
        published = plane.publish_layer_version(f"layer{index}", {"Content": {"ZipFile": _b64(zip_bytes)}},
                                                "us-east-1", "http://x")
        arns.append(published["LayerVersionArn"])
    plane.create_function({"FunctionName": "f", "Role": ROLE, "Runtime": runtime, "Handler": "app.handler",
                           "Code": {"ZipFile": _b64(make_zip(code, executable=("bootstrap",)))},
                           "Layers": arns, "Environment": {"Variables": {"STAGE": "test"}}}, "us-east-1")
    return store, plane


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def test_layers_merge_in_order_later_files_replacing_earlier_ones(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "python3.12", {"app.py": ""},
                          [{"python/shared.py": "first", "python/a.py": "a"},
                           {"python/shared.py": "second", "bin/tool": "#!/bin/sh\n"}])
    config = function_config(plane.function("f"), store, mode="path")  # type: ignore[arg-type]
    (opt,) = config.layers
    assert (opt / "python" / "shared.py").read_text() == "second"
    assert (opt / "python" / "a.py").read_text() == "a"
    assert os.access(opt / "bin" / "tool", os.X_OK)
    assert config.code_dir == store.code_dir(plane.function("f").code.sha256_hex)  # type: ignore[union-attr]
    assert (config.code_dir / "app.py").is_file()
    assert config.environment["STAGE"] == "test"
    assert config.environment["PYTHONPATH"].split(":") == [f"{opt}/python/lib/python3.12/site-packages",
                                                          f"{opt}/python"]
    assert config.environment["PATH"].startswith(f"{opt}/bin:")
    assert (config.runtime, config.handler, config.memory_mb, config.timeout) == ("python3.12", "app.handler",
                                                                                  128, 3.0)


def test_provided_runtime_starts_the_code_bootstrap_before_the_layer_one(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "provided.al2023", {"bootstrap": BOOT % "code"},
                          [{"bootstrap": BOOT % "layer"}])
    config = function_config(plane.function("f"), store, mode="path")  # type: ignore[arg-type]
    # `sh -c 'exec "$0"' BOOTSTRAP HANDLER` runs BOOTSTRAP with no arguments, as Lambda does
    expected = ["/bin/sh", "-c", 'exec "$0"', str(config.code_dir / "bootstrap"), "app.handler"]
    assert config.command() == expected


def test_provided_runtime_without_its_own_bootstrap_starts_the_layers(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "provided.al2023", {"app.py": ""}, [{"bootstrap": BOOT % "layer"}])
    config = function_config(plane.function("f"), store, mode="path")  # type: ignore[arg-type]
    (opt,) = config.layers
    assert config.command()[-2] == str(opt / "bootstrap")


def test_bwrap_mode_mounts_code_at_var_task_and_layers_at_opt(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "provided.al2023", {"app.py": ""}, [{"bootstrap": BOOT % "layer"}])
    config = function_config(plane.function("f"), store, mode="bwrap")  # type: ignore[arg-type]
    assert (config.sandbox, config.layers, config.ephemeral_storage_mb) == ("bwrap", (), 512)
    command, _ = bubblewrap.wrap(config.command(), config.code_dir, config.opt_dir)
    assert command[0] == "bwrap" and command[-2] == "/opt/bootstrap"
    at = command.index(str(config.code_dir))
    assert command[at - 1:at + 2] == ["--ro-bind", str(config.code_dir), "/var/task"]
    assert command[command.index("/opt") - 2:command.index("/opt")] == ["--ro-bind", str(config.opt_dir)]
    assert config.environment["LAMBDA_TASK_ROOT"] == "/var/task"


def test_deleting_the_function_frees_its_merged_layers(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "python3.12", {"app.py": ""}, [{"python/x.py": ""}])
    function_config(plane.function("f"), store, mode="path")  # type: ignore[arg-type]
    assert list(store.opt_root.iterdir())
    plane.delete_function("f", None, "us-east-1")
    assert list(store.opt_root.iterdir()) == []


def test_json_logging_config_reaches_the_runtime_as_lambdas_variables(tmp_path: Path) -> None:
    store, plane = deploy(tmp_path, "python3.12", {"app.py": ""}, [])
    plane.update_function_configuration("f", {"LoggingConfig": {"LogFormat": "JSON",
                                                                "ApplicationLogLevel": "DEBUG"}},
                                        "us-east-1")
    config = function_config(plane.function("f"), store, mode="path")  # type: ignore[arg-type]
    assert config.environment["AWS_LAMBDA_LOG_FORMAT"] == "JSON"
    assert config.environment["AWS_LAMBDA_LOG_LEVEL"] == "DEBUG"
