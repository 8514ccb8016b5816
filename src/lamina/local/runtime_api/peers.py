"""Which process is on the other end of a loopback connection (Linux, from ``/proc``).

Each execution environment's Runtime API listens on its own loopback port, and any process of this
machine can connect to any loopback port: a function that learned another environment's
``AWS_LAMBDA_RUNTIME_API`` (from ``/proc/PID/environ``, or by scanning ports) could take its
invocations and answer for it. The server therefore asks, once per connection, whether the connecting
socket belongs to one of the environment's own processes: the client's end of the connection is the
``/proc/net/tcp`` entry whose local port is the peer's port and whose remote port is the server's, and
its inode names the socket that some process holds open as ``socket:[inode]``.
"""

from __future__ import annotations

import os
from typing import Iterable, Iterator, Optional

_TABLES = ("/proc/net/tcp", "/proc/net/tcp6")
_ESTABLISHED = "01"


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


def _established() -> Iterator[tuple[int, int, int]]:
    """(local port, remote port, inode) of every established TCP connection of this machine."""
    for table in _TABLES:
        try:
            with open(table, encoding="ascii") as rows:
                next(rows, None)  # the header
                for row in rows:
                    fields = row.split()
                    if len(fields) >= 10 and fields[3] == _ESTABLISHED:
                        yield _port(fields[1]), _port(fields[2]), int(fields[9])
        except OSError:
            continue


def client_socket_inode(server_port: int, peer_port: int) -> Optional[int]:
    """The inode of the connecting socket (the client's end) of ``peer_port`` → ``server_port``."""
    for local, remote, inode in _established():
        if local == peer_port and remote == server_port:
            return inode
    return None


def connected_to(server_port: int) -> bool:
    """Whether any connection to ``server_port`` (a listening port of this machine) is established."""
    return any(local == server_port for local, _, _ in _established())


def held_by(inode: int, pids: Iterable[int]) -> bool:
    """Whether any of ``pids`` holds the socket ``inode`` open."""
    return holds(f"socket:[{inode}]", pids)


def holds(target: str, pids: Iterable[int]) -> bool:
    """Whether any of ``pids`` holds ``target`` open (a path, or ``socket:[inode]``)."""
    for pid in pids:
        directory = f"/proc/{pid}/fd"
        try:
            descriptors = os.listdir(directory)
        except OSError:
            continue
        for fd in descriptors:
            try:
                if os.readlink(f"{directory}/{fd}") == target:
                    return True
            except OSError:
                continue
    return False


def connection_from(server_port: int, peer_port: int, pids: Iterable[int]) -> bool:
    """Whether the connection from ``peer_port`` was opened by one of ``pids``."""
    inode = client_socket_inode(server_port, peer_port)
    return inode is not None and inode != 0 and held_by(inode, pids)
