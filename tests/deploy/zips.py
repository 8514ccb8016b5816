"""Zip archives for the tests, including hostile ones, built in memory."""

from __future__ import annotations

import io
import stat
import zipfile


def make_zip(files: dict[str, str | bytes], executable: tuple[str, ...] = (),
             links: dict[str, str] | None = None, compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """A zip of ``files`` (name → content); ``executable`` names get mode 755; ``links`` are symlinks."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = ((0o100755 if name in executable else 0o100644) << 16)
            info.compress_type = compression
            zf.writestr(info, content)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.create_system = 3
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            zf.writestr(info, target)
    return buffer.getvalue()


def zip_bomb(inflated: int) -> bytes:
    """One entry of ``inflated`` zero bytes (deflates about 1000:1)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf, zf.open("zeros.bin", "w",
                                                                           force_zip64=True) as entry:
        block = b"\0" * (1024 * 1024)
        for _ in range(inflated // len(block)):
            entry.write(block)
    return buffer.getvalue()


def lying_zip(real_size: int, declared_size: int) -> bytes:
    """A zip whose header declares ``declared_size`` bytes but inflates to ``real_size``."""
    data = make_zip({"data.bin": b"a" * real_size}, compression=zipfile.ZIP_STORED)
    # patch the uncompressed size in the local header (offset 22) and central directory (offset 24)
    patched = bytearray(data)
    local = patched.find(b"PK\x03\x04")
    patched[local + 22:local + 26] = declared_size.to_bytes(4, "little")
    central = patched.find(b"PK\x01\x02")
    patched[central + 24:central + 28] = declared_size.to_bytes(4, "little")
    return bytes(patched)
