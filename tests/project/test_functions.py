"""One schema for a project file's function tables: lamina serve and lamina deploy accept the same keys."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from lamina.project.functions import DEPLOY, KEYS, ProjectError, deploy_settings, keys_read_by, load_functions

TABLE = """
[functions.api]
code = "src"
handler = "app.handler"
memory = 256
layers = ["layers/common", "arn:aws:lambda:us-east-1:123456789012:layer:x:3"]
routes = ["GET /items/{id}"]
snap_start = true
max_concurrency = 4
role = "arn:aws:iam::123456789012:role/api"
"""


def test_serve_and_deploy_read_the_same_table(tmp_path: Path) -> None:
    (tmp_path / "src").mkdir()
    (tmp_path / "lamina.toml").write_text(TABLE)
    [config] = load_functions(tmp_path / "lamina.toml")
    assert (config.memory_mb, config.snap_start, config.environment_concurrency) == (256, True, 4)
    name, settings = deploy_settings(tmp_path, None)
    assert name == "api"
    assert set(settings) <= keys_read_by(DEPLOY) and "routes" not in settings
    assert settings["code"] == str(tmp_path / "src") and settings["memory"] == 256
    assert settings["layers"] == [str(tmp_path / "layers/common"),
                                  "arn:aws:lambda:us-east-1:123456789012:layer:x:3"]


def test_every_key_has_a_reader() -> None:
    assert all(key.readers for key in KEYS.values())


@pytest.mark.parametrize("read", [lambda path: load_functions(path / "lamina.toml"),
                                  lambda path: deploy_settings(path, "api")])
def test_a_key_nobody_reads_is_refused_by_serve_and_deploy_alike(tmp_path: Path,
                                                                 read: Callable[[Path], object]) -> None:
    (tmp_path / "lamina.toml").write_text('[functions.api]\nhandler = "app.handler"\nsnapstart = true\n')
    with pytest.raises(ProjectError, match=r"function api: unknown keys \['snapstart'\]"):
        read(tmp_path)


def test_a_value_of_the_wrong_type_names_the_function(tmp_path: Path) -> None:
    (tmp_path / "lamina.toml").write_text('[functions.api]\nhandler = "app.handler"\nwith_layer = "yes"\n')
    with pytest.raises(ProjectError, match="function api: expected true or false, got 'yes'"):
        deploy_settings(tmp_path, "api")


def test_the_s3_bucket_for_deploys_comes_from_the_project_file_too(tmp_path: Path) -> None:
    from lamina.deploy.settings import resolve_settings

    table = '[functions.big]\nhandler = "app.handler"\ns3_bucket = "artifacts"\n'
    (tmp_path / "lamina.toml").write_text(table)
    _, project = deploy_settings(tmp_path, None)
    assert project["s3_bucket"] == "artifacts"
    assert resolve_settings(None, {}, tmp_path).s3_bucket == "artifacts"
    assert resolve_settings(None, {"s3_bucket": "other"}, tmp_path).s3_bucket == "other"  # the flag wins
