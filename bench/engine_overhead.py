"""CPU per call of the embedded engine, against a fast local upstream, sequentially:
raw httpx, litellm.acompletion as tollway calls it, and tollway's EmbeddedEngine.
Shows how much of the embedded path is LiteLLM itself.

Run: .venv/bin/python bench/engine_overhead.py
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

from tollway.engine.base import Endpoint, EngineCall, Target
from tollway.engine.embedded import EmbeddedEngine
from tollway.engine.litellm_env import load_litellm
from tollway.secrets.base import SecretValue

KEY = "sk-bench-upstream-key"
CALLS = 400


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def cpu_ms(call: Callable[[], Awaitable[object]]) -> float:
    for _ in range(40):
        await call()
    started = time.process_time()
    for _ in range(CALLS):
        await call()
    return (time.process_time() - started) / CALLS * 1000


async def measure(base: str) -> dict[str, float]:
    litellm = load_litellm()
    messages = [{"role": "user", "content": "hi"}]
    body = {"model": "bench", "messages": messages}
    engine = EmbeddedEngine()
    target = Target("bench", "openai/bench", SecretValue(KEY), base, 30.0)
    call = EngineCall(Endpoint.CHAT, {"messages": messages}, target)
    async with httpx.AsyncClient(headers={"Authorization": f"Bearer {KEY}"}) as client:
        results = {
            "httpx": await cpu_ms(lambda: client.post(f"{base}/chat/completions", json=body)),
            "litellm.acompletion": await cpu_ms(
                lambda: litellm.acompletion(
                    model="openai/bench",
                    messages=messages,
                    api_key=KEY,
                    api_base=base,
                    num_retries=0,
                )
            ),
            "EmbeddedEngine.call": await cpu_ms(lambda: engine.call(call)),
        }
    await engine.aclose()
    return results


def main() -> None:
    port = free_port()
    upstream = Path(__file__).with_name("fast_upstream.py")
    process = subprocess.Popen([sys.executable, str(upstream), str(port)])
    try:
        base = f"http://127.0.0.1:{port}/v1"
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx.get(f"{base}/models", timeout=1)
                break
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)
        results = asyncio.run(measure(base))
    finally:
        process.terminate()
    print(f"{'path':<24}{'CPU ms/call':>12}{'vs httpx':>10}")
    for name, value in results.items():
        print(f"{name:<24}{value:>12.2f}{value / results['httpx']:>9.1f}x")


if __name__ == "__main__":
    main()
