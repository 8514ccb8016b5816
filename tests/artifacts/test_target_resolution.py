"""Dependencies resolved for the target, not for this machine (a 3.11 x86_64 host): markers, Requires-Python,
lock files, and the index's evidence when no wheel fits. Small pure-Python projects from the index."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from lamina.artifacts.bundle import build_function_zip
from lamina.artifacts.dependencies import explain_no_wheel
from lamina.artifacts.index import wheel_fit
from tests.artifacts.build_helpers import error_lines, run_lamina

MARKERS = """\
six; python_version == "3.12"
idna; python_version == "3.11"
tomli; platform_machine == "aarch64"
certifi; platform_machine == "x86_64"
"""


def code_with(tmp_path: Path, files: dict[str, str]) -> Path:
    code = tmp_path / "fn"
    code.mkdir()
    (code / "app.py").write_text("def handler(event, context):\n    return 1\n")
    for name, text in files.items():
        (code / name).write_text(text)
    return code


def top_level(zip_path: Path) -> set[str]:
    with zipfile.ZipFile(zip_path) as archive:
        return {name.split("/", 1)[0] for name in archive.namelist()}


def dist_versions(zip_path: Path) -> dict[str, str]:
    names = {name.split("/", 1)[0] for name in zipfile.ZipFile(zip_path).namelist()}
    return dict(name[:-len(".dist-info")].rsplit("-", 1) for name in names if name.endswith(".dist-info"))


def test_markers_are_evaluated_for_the_target_python_and_cpu_not_this_machine(tmp_path: Path) -> None:
    code = code_with(tmp_path, {"requirements.txt": MARKERS})
    out = build_function_zip(code, tmp_path / "f.zip", arch="arm64", python_version="3.12")
    installed = set(dist_versions(out))
    assert installed == {"six", "tomli"}, "idna is for 3.11 and certifi for x86_64: this host, not the target"


def test_python_version_marker_brings_async_timeout_for_3_10(tmp_path: Path) -> None:
    code = code_with(tmp_path, {"requirements.txt": 'async-timeout; python_version < "3.11"\n'})
    assert "async_timeout" in top_level(build_function_zip(code, tmp_path / "a.zip", python_version="3.10"))
    newer = build_function_zip(code, tmp_path / "b.zip", python_version="3.12")
    assert "async_timeout" not in top_level(newer)


def test_newest_version_is_chosen_by_the_target_pythons_requires_python(tmp_path: Path) -> None:
    # click 8.2+ needs Python 3.10: a 3.9 function gets 8.1.x, a 3.12 one the newest, whatever this host runs
    code = code_with(tmp_path, {"requirements.txt": "click\n"})
    old = dist_versions(build_function_zip(code, tmp_path / "39.zip", python_version="3.9"))["click"]
    new = dist_versions(build_function_zip(code, tmp_path / "312.zip", python_version="3.12"))["click"]
    assert old.startswith("8.1.")
    assert tuple(map(int, new.split(".")[:2])) >= (8, 2)


def test_uv_lock_is_honoured_with_its_pins(tmp_path: Path) -> None:
    project = '[project]\nname = "fn"\nversion = "1"\nrequires-python = ">=3.9"\n'
    code = code_with(tmp_path, {"pyproject.toml": project + 'dependencies = ["six==1.16.0"]\n'})
    from lamina.artifacts.dependencies import uv_binary

    subprocess.run([uv_binary(), "lock", "--project", str(code)], check=True, capture_output=True,
                   timeout=120)
    (code / "pyproject.toml").write_text(  # the lock, not pyproject's loose requirement, decides
        '[project]\nname = "fn"\nversion = "1"\nrequires-python = ">=3.9"\ndependencies = ["six"]\n')
    out = build_function_zip(code, tmp_path / "f.zip")
    assert dist_versions(out) == {"six": "1.16.0"}


def test_pylock_toml_and_hashed_requirements_are_installed_as_locked(tmp_path: Path) -> None:
    from lamina.artifacts.dependencies import uv_binary

    source = tmp_path / "in.txt"
    source.write_text("idna==3.7\n")
    lock = tmp_path / "pylock.toml"
    subprocess.run([uv_binary(), "pip", "compile", str(source), "--format", "pylock.toml", "-o", str(lock),
                    "--python-version", "3.12", "--universal"], check=True, capture_output=True, timeout=120)
    code = code_with(tmp_path, {"pylock.toml": lock.read_text()})
    assert dist_versions(build_function_zip(code, tmp_path / "p.zip")) == {"idna": "3.7"}

    hashed = tmp_path / "hashed.txt"
    hashed.write_text("idna==3.7 --hash=sha256:" + "0" * 64 + "\n")  # a hash no file has
    result = run_lamina("build", "--code", str(code), "--requirements", str(hashed), "--out",
                        str(tmp_path / "h.zip"))
    assert result.returncode == 1 and len(error_lines(result)) == 1, result.stderr
    assert "hash" in error_lines(result)[0]


def test_wheel_only_for_a_newer_glibc_is_explained_as_als2s_ceiling() -> None:
    # numpy 2.3.0's x86_64 wheels are manylinux_2_27/2_28 only: loadable on AL2023, not on AL2 (2.26)
    failure = explain_no_wheel("numpy", "==2.3.0", "x86_64", "al2", "3.11")
    assert "numpy==2.3.0 has no wheel al2 can load" in failure.message
    assert "glibc newer than al2's 2.26" in failure.message and "--os al2023" in failure.message
    assert "versions that load:" in failure.message and not failure.exact_tags_would_load


def test_manylinux_2_24_wheels_count_as_loadable_on_al2_though_uv_cannot_name_them() -> None:
    files = ["p-1.0-cp311-cp311-manylinux_2_24_x86_64.whl", "p-2.0-cp311-cp311-manylinux_2_28_x86_64.whl",
             "p-3.0-cp311-cp311-musllinux_1_2_x86_64.whl", "p-3.0.tar.gz"]
    fit = wheel_fit(files, "x86_64", "al2", "3.11")
    assert [str(v) for v in fit.loadable] == ["1.0"]
    assert [str(v) for v in fit.newer_glibc] == ["2.0"]


def test_build_from_two_virtualenvs_in_different_places_gives_byte_identical_zips(tmp_path: Path) -> None:
    # charset-normalizer has a console script whose shebang (and RECORD hash) names the interpreter
    code = code_with(tmp_path, {"requirements.txt": "charset-normalizer==3.4.0\nsix\n"})
    site = next(p for p in sys.path if p.endswith("site-packages") and Path(p, "click").is_dir())
    zips = []
    for place in ("a", "deeper/venv-b"):
        venv = tmp_path / place
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
        (next(venv.glob("lib/python3.*/site-packages")) / "lamina-test.pth").write_text(
            f"{site}\n{Path(__file__).resolve().parents[2] / 'src'}\n")
        out = tmp_path / f"{place.replace('/', '-')}.zip"
        result = subprocess.run([str(venv / "bin" / "python"), "-m", "lamina", "build", "--code", str(code),
                                 "--python", "3.11", "--out", str(out)], capture_output=True, text=True,
                                timeout=300, env={**os.environ, "LAMINA_CACHE_DIR": str(tmp_path / place)})
        assert result.returncode == 0, result.stderr
        zips.append(out.read_bytes())
    assert zips[0] == zips[1]
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        record = next(n for n in archive.namelist()
                      if n.startswith("charset_normalizer") and n.endswith("RECORD"))
        assert "bin/" not in archive.read(record).decode()


@pytest.mark.parametrize("version", ["3.12"])
def test_bundle_bytecode_is_unchecked_hash_for_the_target_python(tmp_path: Path, version: str) -> None:
    code = code_with(tmp_path, {"requirements.txt": "six\n"})
    result = run_lamina("build", "--code", str(code), "--python", version, "--out", str(tmp_path / "f.zip"))
    if "no Python" in result.stderr:
        pytest.skip(f"no Python {version} on this machine")
    assert result.returncode == 0, result.stderr
    tag = version.replace(".", "")
    with zipfile.ZipFile(tmp_path / "f.zip") as archive:
        pycs = {name: archive.read(name) for name in archive.namelist() if name.endswith(".pyc")}
    assert set(pycs) == {f"__pycache__/app.cpython-{tag}.pyc", f"__pycache__/six.cpython-{tag}.pyc"}
    assert {int.from_bytes(data[4:8], "little") for data in pycs.values()} == {0b01}
    no_bytecode = run_lamina("build", "--code", str(code), "--python", version, "--no-bytecode", "--out",
                             str(tmp_path / "n.zip"))
    assert no_bytecode.returncode == 0
    assert not [n for n in zipfile.ZipFile(tmp_path / "n.zip").namelist() if n.endswith(".pyc")]
