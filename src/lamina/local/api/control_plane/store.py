"""Where deployed functions and layer versions live: SQLite for metadata, files for code.

Layout of the data directory::

    lamina.sqlite3          functions, layer versions, layer version counters
    code/<sha256>.zip       each uploaded zip once, named by its content (GetFunction's Code.Location)
    code/<sha256>/          the same zip unpacked, read-only for the function
    tmp/                    extraction in progress (same filesystem, so the final rename is atomic)

Identical code uploaded twice is stored once, and a function and a layer with the same zip share it.
Every write goes through one lock: code is written, then the row that references it, so a garbage
collection in between can never delete code a new row is about to point at.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lamina.local.api.control_plane import unzip
from lamina.local.database import Database, private_directory
from lamina.local.model import service_errors as errors
from lamina.runtime import protocol

SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (name TEXT PRIMARY KEY, record TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS layer_versions (
    layer_name TEXT NOT NULL, version INTEGER NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (layer_name, version));
CREATE TABLE IF NOT EXISTS layer_counters (layer_name TEXT PRIMARY KEY, last_version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS function_resources (
    name TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL, record TEXT NOT NULL,
    PRIMARY KEY (name, kind, key));
"""
# What a function owns besides $LATEST, each a row of function_resources (kind, key → record), all
# deleted with the function.
VERSION = "version"  # key: the version ("1", "$LATEST.PUBLISHED"); record: a FunctionRecord
VERSION_COUNTER = "version-counter"  # key "": {"last": n}; numbers are never reused, as in Lambda
ALIAS = "alias"  # key: alias name; record: AliasConfiguration
POLICY = "policy"  # key: qualifier or ""; record: {"Statement": [...], "RevisionId": …}
CONCURRENCY = "concurrency"  # key "": {"ReservedConcurrentExecutions": n}
URL = "url"  # key: qualifier or ""; record: FunctionUrlConfig
EVENT_INVOKE = "event-invoke"  # key: qualifier or "$LATEST"; record: FunctionEventInvokeConfig


@dataclass(frozen=True)
class Code:
    """One stored zip: its content address and the sizes Lambda reports."""

    sha256_hex: str
    size: int
    unzipped_size: int

    @property
    def sha256_b64(self) -> str:
        """``CodeSha256`` as Lambda reports it: base64 of the raw digest."""
        return base64.b64encode(bytes.fromhex(self.sha256_hex)).decode()


@dataclass
class FunctionRecord:
    """A function as stored: its FunctionConfiguration (AWS shape), tags, and code addresses.

    ``layers`` holds the code of its layers in order: as in Lambda, a function keeps running with a
    layer version that was deleted after the function was configured with it.
    """

    configuration: dict[str, Any]
    tags: dict[str, str]
    code: Code
    layers: list[Code]

    @property
    def name(self) -> str:
        return str(self.configuration["FunctionName"])


@dataclass
class LayerVersionRecord:
    """A layer version as stored: its GetLayerVersion response (AWS shape) and code address."""

    layer_name: str
    version: int
    response: dict[str, Any]
    code: Code


class FunctionStore:
    """Persistent functions and layer versions under ``data_dir``; safe to share between threads."""

    def __init__(self, data_dir: Path, storage_limit: int = protocol.MAX_CODE_STORAGE) -> None:
        self.data_dir = Path(data_dir).resolve()
        self.code_root = self.data_dir / "code"
        self.tmp_root = self.data_dir / "tmp"
        self.opt_root = self.data_dir / "opt"  # merged layers, see lamina.local.api.control_plane.task
        self.storage_limit = storage_limit
        private_directory(self.data_dir)
        self.code_root.mkdir(parents=True, exist_ok=True)
        self.tmp_root.mkdir(parents=True, exist_ok=True)
        _remove_stale(self.tmp_root)
        self._database = Database(self.data_dir / "lamina.sqlite3", SCHEMA)
        self._db = self._database.connection
        self.lock = self._database.lock  # also held by the service around code and rows together
        self.transaction = self._database.transaction

    def close(self) -> None:
        self._database.close()

    # --- code -------------------------------------------------------------------------------

    def put_code(self, zip_bytes: bytes) -> Code:
        """Store a zip (once per content) and its unpacked tree; refuse unsafe or oversized zips.

        Callers hold :attr:`lock` until the row referencing the code is written (see the module doc).
        """
        digest = hashlib.sha256(zip_bytes).hexdigest()
        with self.lock:
            existing = self._stored_code(digest)
            if existing is not None:
                return existing
            if self.storage_used() + len(zip_bytes) > self.storage_limit:
                raise errors.code_storage_exceeded()
            staging = self.tmp_root / uuid.uuid4().hex
            try:
                unzipped = unzip.extract(io.BytesIO(zip_bytes), staging / "tree", protocol.MAX_UNZIPPED_CODE)
                (staging / "tree.zip").write_bytes(zip_bytes)
                (staging / "unzipped-size").write_text(str(unzipped))
                os.replace(staging / "tree.zip", self.code_zip(digest))
                os.replace(staging / "unzipped-size", self.code_root / f"{digest}.size")
                os.replace(staging / "tree", self.code_dir(digest))
            finally:
                shutil.rmtree(staging, ignore_errors=True)
            return Code(digest, len(zip_bytes), unzipped)

    def code_dir(self, sha256_hex: str) -> Path:
        return self.code_root / sha256_hex

    def code_zip(self, sha256_hex: str) -> Path:
        return self.code_root / f"{sha256_hex}.zip"

    def _stored_code(self, digest: str) -> Code | None:
        size_file = self.code_root / f"{digest}.size"
        if not (size_file.exists() and self.code_dir(digest).is_dir() and self.code_zip(digest).exists()):
            return None
        return Code(digest, self.code_zip(digest).stat().st_size, int(size_file.read_text()))

    def storage_used(self) -> int:
        return sum(path.stat().st_size for path in self.code_root.glob("*.zip"))

    def collect_garbage(self) -> None:
        """Delete stored code that no function or layer version references any more."""
        with self.lock:
            live = set()
            records = [*self.list_functions(), *self.list_versions()]
            for function in records:
                live.add(function.code.sha256_hex)
                live.update(layer.sha256_hex for layer in function.layers)
            live |= {record.code.sha256_hex for record in self.all_layer_versions()}
            for path in self.code_root.iterdir():
                digest = path.name.split(".")[0]
                if digest in live:
                    continue
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
            live_opt = {layers_key(function.layers) for function in records}
            for path in self.opt_root.glob("*"):
                if path.name not in live_opt:
                    shutil.rmtree(path, ignore_errors=True)

    # --- functions --------------------------------------------------------------------------

    def get_function(self, name: str) -> FunctionRecord | None:
        with self.lock:
            row = self._db.execute("SELECT record FROM functions WHERE name = ?", (name,)).fetchone()
        return _function_from_json(row[0]) if row else None

    def list_functions(self) -> list[FunctionRecord]:
        with self.lock:
            rows = self._db.execute("SELECT record FROM functions ORDER BY name").fetchall()
        return [_function_from_json(row[0]) for row in rows]

    def insert_function(self, record: FunctionRecord) -> None:
        with self.transaction() as db:
            try:
                db.execute("INSERT INTO functions (name, record) VALUES (?, ?)",
                           (record.name, _function_to_json(record)))
            except sqlite3.IntegrityError:
                raise errors.function_exists(record.name) from None

    def replace_function(self, record: FunctionRecord) -> None:
        with self.transaction() as db:
            db.execute("UPDATE functions SET record = ? WHERE name = ?",
                       (_function_to_json(record), record.name))

    def delete_function(self, name: str) -> bool:
        with self.transaction() as db:
            deleted = db.execute("DELETE FROM functions WHERE name = ?", (name,)).rowcount > 0
            db.execute("DELETE FROM function_resources WHERE name = ?", (name,))
        if deleted:
            self.collect_garbage()
        return deleted

    # --- what a function owns: versions, aliases, policy, settings ---------------------------

    def get_resource(self, name: str, kind: str, key: str) -> dict[str, Any] | None:
        with self.lock:
            row = self._db.execute("SELECT record FROM function_resources WHERE name = ? AND kind = ? "
                                   "AND key = ?", (name, kind, key)).fetchone()
        return dict(json.loads(row[0])) if row else None

    def put_resource(self, name: str, kind: str, key: str, record: dict[str, Any]) -> None:
        with self.transaction() as db:
            db.execute("INSERT OR REPLACE INTO function_resources (name, kind, key, record) "
                       "VALUES (?, ?, ?, ?)", (name, kind, key, json.dumps(record)))

    def delete_resource(self, name: str, kind: str, key: str) -> bool:
        with self.transaction() as db:
            return db.execute("DELETE FROM function_resources WHERE name = ? AND kind = ? AND key = ?",
                              (name, kind, key)).rowcount > 0

    def list_resources(self, kind: str, name: str | None = None) -> list[tuple[str, str, dict[str, Any]]]:
        """``(function name, key, record)`` of one kind, for one function or all, in key order."""
        query = "SELECT name, key, record FROM function_resources WHERE kind = ?"
        arguments: tuple[str, ...] = (kind,)
        if name is not None:
            query, arguments = query + " AND name = ?", (kind, name)
        with self.lock:
            rows = self._db.execute(query + " ORDER BY name, key", arguments).fetchall()
        return [(row[0], row[1], json.loads(row[2])) for row in rows]

    def add_version(self, name: str, build: Callable[[str], FunctionRecord],
                    version: str | None = None) -> FunctionRecord:
        """Store the version ``build(number)`` makes: the next number, or ``version`` (replaced)."""
        with self.transaction() as db:
            if version is None:
                row = db.execute("SELECT record FROM function_resources WHERE name = ? AND kind = ? "
                                 "AND key = ''", (name, VERSION_COUNTER)).fetchone()
                version = str((json.loads(row[0])["last"] if row else 0) + 1)
                counter = json.dumps({"last": int(version)})
                db.execute("INSERT OR REPLACE INTO function_resources (name, kind, key, record) "
                           "VALUES (?, ?, '', ?)", (name, VERSION_COUNTER, counter))
            record = build(version)
            db.execute("INSERT OR REPLACE INTO function_resources (name, kind, key, record) "
                       "VALUES (?, ?, ?, ?)", (name, VERSION, version, _function_to_json(record)))
        return record

    def get_version(self, name: str, version: str) -> FunctionRecord | None:
        with self.lock:
            row = self._db.execute("SELECT record FROM function_resources WHERE name = ? AND kind = ? "
                                   "AND key = ?", (name, VERSION, version)).fetchone()
        return _function_from_json(row[0]) if row else None

    def list_versions(self, name: str | None = None) -> list[FunctionRecord]:
        """Published versions (of one function, or all), numbered ones in order, then $LATEST.PUBLISHED."""
        query = "SELECT name, key, record FROM function_resources WHERE kind = ?"
        arguments: tuple[str, ...] = (VERSION,)
        if name is not None:
            query, arguments = query + " AND name = ?", (VERSION, name)
        with self.lock:
            rows = self._db.execute(query, arguments).fetchall()
        rows.sort(key=lambda row: (row[0], not row[1].isdigit(), int(row[1]) if row[1].isdigit() else 0))
        return [_function_from_json(row[2]) for row in rows]

    def delete_version(self, name: str, version: str) -> bool:
        deleted = self.delete_resource(name, VERSION, version)
        if deleted:
            self.collect_garbage()
        return deleted

    # --- layers -----------------------------------------------------------------------------

    def add_layer_version(self, layer_name: str, code: Code,
                          build: Callable[[int], dict[str, Any]]) -> LayerVersionRecord:
        """Number a new version (numbers are never reused, as in Lambda) and store what ``build`` makes.

        ``build(version) -> dict`` returns the GetLayerVersion response for that version number.
        """
        with self.transaction() as db:
            row = db.execute("SELECT last_version FROM layer_counters WHERE layer_name = ?",
                             (layer_name,)).fetchone()
            version = (row[0] if row else 0) + 1
            db.execute("INSERT OR REPLACE INTO layer_counters (layer_name, last_version) VALUES (?, ?)",
                       (layer_name, version))
            record = LayerVersionRecord(layer_name, version, build(version), code)
            db.execute("INSERT INTO layer_versions (layer_name, version, record) VALUES (?, ?, ?)",
                       (layer_name, version, _layer_to_json(record)))
        return record

    def get_layer_version(self, layer_name: str, version: int) -> LayerVersionRecord | None:
        with self.lock:
            row = self._db.execute("SELECT record FROM layer_versions WHERE layer_name = ? AND version = ?",
                                   (layer_name, version)).fetchone()
        return _layer_from_json(row[0]) if row else None

    def list_layer_versions(self, layer_name: str) -> list[LayerVersionRecord]:
        """Versions of one layer, newest first (ListLayerVersions' order)."""
        with self.lock:
            rows = self._db.execute("SELECT record FROM layer_versions WHERE layer_name = ? "
                                    "ORDER BY version DESC", (layer_name,)).fetchall()
        return [_layer_from_json(row[0]) for row in rows]

    def all_layer_versions(self) -> list[LayerVersionRecord]:
        with self.lock:
            rows = self._db.execute("SELECT record FROM layer_versions "
                                    "ORDER BY layer_name, version DESC").fetchall()
        return [_layer_from_json(row[0]) for row in rows]

    def delete_layer_version(self, layer_name: str, version: int) -> bool:
        with self.transaction() as db:
            deleted = db.execute("DELETE FROM layer_versions WHERE layer_name = ? AND version = ?",
                                 (layer_name, version)).rowcount > 0
        if deleted:
            self.collect_garbage()
        return deleted


STALE_AFTER = 3600.0  # seconds: no extraction takes this long, so such a staging dir is a crash's


def _remove_stale(tmp_root: Path) -> None:
    """Leftovers of a crash mid-extraction; recent ones may belong to another server on this data dir."""
    now = time.time()
    for path in tmp_root.iterdir():
        with contextlib.suppress(OSError):
            if now - path.lstat().st_mtime > STALE_AFTER:
                shutil.rmtree(path, ignore_errors=True)


def layers_key(layers: list[Code]) -> str:
    """The name of the merged directory for one ordered combination of layers."""
    return hashlib.sha256(":".join(layer.sha256_hex for layer in layers).encode()).hexdigest()


def _code_to_dict(code: Code) -> dict[str, Any]:
    return {"sha256": code.sha256_hex, "size": code.size, "unzipped_size": code.unzipped_size}


def _code_from_dict(data: dict[str, Any]) -> Code:
    return Code(data["sha256"], data["size"], data["unzipped_size"])


def _function_to_json(record: FunctionRecord) -> str:
    return json.dumps({"configuration": record.configuration, "tags": record.tags,
                       "code": _code_to_dict(record.code),
                       "layers": [_code_to_dict(layer) for layer in record.layers]})


def _function_from_json(text: str) -> FunctionRecord:
    data = json.loads(text)
    return FunctionRecord(data["configuration"], data["tags"], _code_from_dict(data["code"]),
                          [_code_from_dict(layer) for layer in data["layers"]])


def _layer_to_json(record: LayerVersionRecord) -> str:
    return json.dumps({"layer_name": record.layer_name, "version": record.version,
                       "response": record.response, "code": _code_to_dict(record.code)})


def _layer_from_json(text: str) -> LayerVersionRecord:
    data = json.loads(text)
    return LayerVersionRecord(data["layer_name"], data["version"], data["response"],
                              _code_from_dict(data["code"]))
