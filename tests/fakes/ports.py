"""Free loopback ports for fake servers and the processes tests start.

A port is handed out before anything listens on it, and a subprocess binds it only
after seconds of imports. Ports the kernel picks (``bind(0)``) come from its
ephemeral range, the one every outgoing connection on the machine takes its local
port from: under parallel load one of those connections took a handed-out port first
("address already in use"). So ports come from below that range, from a block of
this test worker's own (gw0, gw1, … never share one), at random within the block
(another run on the same machine most likely draws elsewhere), and only if nothing
holds them now.
"""

from __future__ import annotations

import os
import random
import socket
from pathlib import Path

FIRST_PORT = 10_000  # above the well-known services (PostgreSQL, Redis, …)
BLOCK = 1_000  # ports per worker
ATTEMPTS = 100
_EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")


def free_port() -> int:
    low, high = _worker_block()
    for _ in range(ATTEMPTS):
        port = random.randrange(low, high)
        if _bindable(port):
            return port
    return _kernel_port()  # the whole block busy: still a free port, just a racier one


def _worker_block() -> tuple[int, int]:
    blocks = max(1, (_ephemeral_start() - FIRST_PORT) // BLOCK)
    low = FIRST_PORT + BLOCK * (_worker_index() % blocks)
    return low, low + BLOCK


def _worker_index() -> int:
    name = os.environ.get("PYTEST_XDIST_WORKER", "")  # "gw0", "gw1", …; unset without xdist
    digits = name.removeprefix("gw")
    return int(digits) if digits.isdigit() else 0


def _ephemeral_start() -> int:
    try:
        return int(_EPHEMERAL_RANGE.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 32_768  # Linux's default


def _bindable(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


def _kernel_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port
