"""Request ids from the pooled random bytes: UUIDs of version 4, never repeated, not shared with a fork."""

from __future__ import annotations

import os
import uuid

from lamina.local.model.request_ids import new_request_id


def test_request_ids_are_distinct_version_4_uuids_across_pool_refills() -> None:
    ids = [new_request_id() for _ in range(2000)]  # several refills of the pool
    assert len(set(ids)) == len(ids)
    for text in ids[:50] + ids[-50:]:
        parsed = uuid.UUID(text)
        assert str(parsed) == text and parsed.version == 4 and parsed.variant == uuid.RFC_4122


def test_a_forked_child_does_not_hand_out_the_parents_next_ids() -> None:
    new_request_id()  # the pool is filled
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        os.close(read)
        os.write(write, " ".join(new_request_id() for _ in range(4)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split()
    os.waitpid(pid, 0)
    parent = [new_request_id() for _ in range(4)]
    assert len(child) == 4 and not set(child) & set(parent)
