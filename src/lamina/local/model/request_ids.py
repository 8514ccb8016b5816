"""Request ids: random (version 4) UUIDs, as Lambda's are.

One is made for every invocation; ``uuid.uuid4()`` asks the kernel for 16 random bytes each time (a
system call on the invocation's path), so the bytes come from a pool refilled 4 KiB at a time. A
forked child starts with a pool of its own, so no two processes hand out the same ids.
"""

from __future__ import annotations

import os

_REFILL = 4096
_VARIANT = "89ab"  # the variant digit of an RFC 4122 UUID: 10xx in binary
_pool = b""
_at = 0


def new_request_id() -> str:
    """A fresh random UUID in its text form (``xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx``)."""
    global _pool, _at
    if _at + 16 > len(_pool):
        _pool, _at = os.urandom(_REFILL), 0
    digits = _pool[_at:_at + 16].hex()
    _at += 16
    # uuid.UUID(bytes=..., version=4) would set the same bits; formatting the digits directly costs a
    # fifth of building the object.
    return (f"{digits[:8]}-{digits[8:12]}-4{digits[13:16]}-{_VARIANT[int(digits[16], 16) & 3]}"
            f"{digits[17:20]}-{digits[20:]}")


def _forget_pool() -> None:
    global _pool, _at
    _pool, _at = b"", 0


os.register_at_fork(after_in_child=_forget_pool)
