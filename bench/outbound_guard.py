"""What the connect-time address check costs.

The check (resolve through the policy, vet every address) runs once per new
connection; a pooled keep-alive connection is reused without it. This prints the
check's own CPU cost, and how many checks ran over many embedded-engine calls to
one upstream (expect one per pooled connection, not one per call).

Run: .venv/bin/python bench/outbound_guard.py
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tollway.engine.base import Endpoint, EngineCall, Target
from tollway.engine.embedded import EmbeddedEngine
from tollway.net.guard import OutboundPolicy
from tollway.secrets.base import SecretValue

KEY = "sk-bench-upstream-key"
VETS = 100_000
CALLS = 400


@contextmanager
def start_upstream() -> Iterator[int]:
    """bench/fast_upstream.py on a free loopback port, until the block ends."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    script = Path(__file__).with_name("fast_upstream.py")
    process = subprocess.Popen([sys.executable, str(script), str(port)])
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()


class CountingResolver:
    """Answers every name with loopback and counts the lookups (no real DNS)."""

    def __init__(self) -> None:
        self.lookups = 0

    def resolve(self, host: str, port: int) -> list[str]:
        self.lookups += 1
        return ["127.0.0.1"]

    async def aresolve(self, host: str, port: int) -> list[str]:
        return self.resolve(host, port)


def vet_cost_us(policy: OutboundPolicy, addresses: list[str]) -> float:
    started = time.process_time()
    for _ in range(VETS):
        policy.vet("provider.example", addresses)
    return (time.process_time() - started) / VETS * 1e6


async def checks_per_call(port: int) -> tuple[int, int]:
    resolver = CountingResolver()
    engine = EmbeddedEngine(outbound=OutboundPolicy(allow_private=True, resolver=resolver))
    target = Target("d", "openai/m", SecretValue(KEY), f"http://upstream.test:{port}/v1", 10.0)
    body = {"messages": [{"role": "user", "content": "hi"}]}
    for _ in range(CALLS):
        await engine.call(EngineCall(Endpoint.CHAT, body, target))
    await engine.aclose()
    return CALLS, resolver.lookups


def main() -> None:
    policy = OutboundPolicy(allow_private=False)
    print(f"vet one IPv4 address:          {vet_cost_us(policy, ['93.184.216.34']):.2f} µs")
    two = ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946"]
    print(f"vet an IPv4 + an IPv6 address: {vet_cost_us(policy, two):.2f} µs")
    with start_upstream() as port:
        calls, lookups = asyncio.run(checks_per_call(port))
    print(f"{calls} sequential engine calls: {lookups} address check(s)")


if __name__ == "__main__":
    main()
