"""Benchmark of the /v1 hot path, every scenario in one run, against one fast upstream.

Scenarios (non-streaming chat, 1 and 64 concurrent clients):
  direct            clients → fake upstream
  tollway-null      clients → tollway with a null engine (tollway's own cost + one hop)
  tollway-embedded  clients → tollway → litellm SDK in-process → upstream
  tollway-emb-2w    the same with `tollway serve --workers 2`
  litellm-proxy     clients → LiteLLM proxy (1 worker) → upstream, a named deployment
  proxy-wildcard    the same, on a wildcard deployment with per-call credentials
  tollway-remote    clients → tollway → LiteLLM proxy → upstream

With ``--dialects``: direct and tollway-embedded only, for each /v1 dialect the
upstream can serve through its chat API (chat, responses, messages), JSON and
streamed: the dialects' cost next to chat's.

Prints p50/p99 latency, requests/s, and the ratios the budgets in
docs/architecture.md §9 are stated in. Numbers from a shared 2-core machine: compare
ratios within one run, not absolute values across runs.

Run: .venv/bin/python bench/inference.py [--requests N] [--dialects]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from load import LoadResult, run_load

from tollway.engine.proxy_process import start_litellm_proxy, stop, wait_ready
from tollway.routing.litellm_config import DeploymentSpec, render_config
from tollway.secrets.base import SecretValue

ROOT = Path(__file__).resolve().parents[1]
ADMIN = "twadmin-bench-" + secrets.token_hex(8)
UPSTREAM_KEY = "sk-bench-upstream-key"
BODY = json.dumps({"model": "bench", "messages": [{"role": "user", "content": "hi"}]}).encode()
_HI = [{"role": "user", "content": "hi"}]
# (scenario suffix, path, body) for --dialects.
DIALECTS: tuple[tuple[str, str, dict[str, object]], ...] = (
    ("chat", "/v1/chat/completions", {"model": "bench", "messages": _HI}),
    ("chat-sse", "/v1/chat/completions", {"model": "bench", "messages": _HI, "stream": True}),
    ("resp", "/v1/responses", {"model": "bench", "input": "hi"}),
    ("resp-sse", "/v1/responses", {"model": "bench", "input": "hi", "stream": True}),
    ("msg", "/v1/messages", {"model": "bench", "max_tokens": 16, "messages": _HI}),
    (
        "msg-sse",
        "/v1/messages",
        {"model": "bench", "max_tokens": 16, "messages": _HI, "stream": True},
    ),
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not come up")


@contextmanager
def process(
    args: list[str], env: dict[str, str] | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(args, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def tollway_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")}
    env.update(
        TOLLWAY_DATA_DIR=str(data_dir),
        TOLLWAY_ADMIN_TOKEN=ADMIN,
        TOLLWAY_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def configure(url: str, upstream: str) -> str:
    """A provider pointing at the upstream, model `bench`, and a key; returns the key."""
    with httpx.Client(
        base_url=f"{url}/admin/v1", headers={"Authorization": f"Bearer {ADMIN}"}
    ) as admin:
        provider = admin.post(
            "/providers",
            json={
                "name": "bench",
                "type": "openai_compatible",
                "api_key": UPSTREAM_KEY,
                "base_url": f"{upstream}/v1",
            },
        ).json()
        admin.post(
            "/models",
            params={"skip_catalog_check": "true"},  # the canned upstream lists nothing
            json={"provider_id": provider["id"], "model_id": "bench", "name": "bench"},
        )
        key: str = admin.post("/keys", json={"name": "bench"}).json()["key"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        models = httpx.get(f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}).json()
        if any(m["id"] == "bench" for m in models.get("data", [])):
            return key
        time.sleep(0.1)
    raise RuntimeError("the bench model never reached the routing table")


def measure(
    name: str,
    url: str,
    headers: dict[str, str],
    total: int,
    body: dict[str, object] | None = None,
) -> list[LoadResult]:
    payload = BODY if body is None else json.dumps(body).encode()
    results = []
    for concurrency in (1, 64):
        count = total if concurrency > 1 else max(200, total // 5)
        results.append(
            asyncio.run(run_load(name, url, payload, headers, concurrency=concurrency, total=count))
        )
    return results


@contextmanager
def tollway(
    data_dir: Path, upstream: str, *, mode: str = "", **env: str
) -> Iterator[tuple[str, str]]:
    """tollway in its own process; ``mode`` is "", "null" or "workers=N"."""
    port = free_port()
    args = [sys.executable, str(ROOT / "bench" / "serve_tollway.py"), str(port)]
    args += [mode] if mode else []
    with process(args, tollway_env(data_dir, **env)):
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/health")
        yield url, configure(url, upstream)


def proxy_config(path: Path, upstream: str) -> None:
    """The config tollway renders for LiteLLM, with the bench deployment in it."""
    spec = DeploymentSpec(
        deployment_id="bench",
        public_name="bench",
        litellm_model="openai/bench",
        api_base=f"{upstream}/v1",
        key_env="BENCH_UPSTREAM_KEY",
    )
    path.write_text(render_config([spec], timeout_seconds=60))


def report(results: list[LoadResult]) -> None:
    print(f"{'scenario':<18}{'clients':>8}{'p50 ms':>10}{'p99 ms':>10}{'req/s':>10}{'errors':>8}")
    for r in results:
        print(
            f"{r.name:<18}{r.concurrency:>8}{r.p50:>10.2f}{r.p99:>10.2f}{r.rps:>10.0f}{r.errors:>8}"
        )
    by = {(r.name, r.concurrency): r for r in results}

    def get(name: str, c: int) -> LoadResult | None:
        return by.get((name, c))

    print()
    direct1, null1 = get("direct", 1), get("tollway-null", 1)
    if direct1 and null1:
        overhead = null1.p50 - direct1.p50
        print(f"tollway's own overhead, p50 @1:        {overhead:6.2f} ms   (budget ≤ 1 ms)")
    direct64, null64 = get("direct", 64), get("tollway-null", 64)
    if direct64 and null64:
        print(f"tollway's own overhead, p50 @64:       {null64.p50 - direct64.p50:6.2f} ms")
    for c in (1, 64):
        d, e, p = get("direct", c), get("tollway-embedded", c), get("litellm-proxy", c)
        if d and e and p:
            ratio = (e.p50 - d.p50) / max(p.p50 - d.p50, 1e-9)
            print(f"embedded overhead / proxy hop, p50 @{c:<3}: {ratio:6.2f}      (budget ≤ 0.25)")
    p64 = get("litellm-proxy", 64)
    for name in ("tollway-embedded", "tollway-emb-2w"):
        e64 = get(name, 64)
        if e64 and p64:
            ratio = e64.rps / p64.rps
            print(f"{name} throughput / proxy worker @64: {ratio:6.2f}x   (budget ≥ 4x)")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--requests", type=int, default=2000, help="requests per scenario at 64 clients"
    )
    parser.add_argument(
        "--skip-proxy", action="store_true", help="leave out the LiteLLM proxy scenarios"
    )
    parser.add_argument(
        "--dialects", action="store_true", help="chat, responses and messages, JSON and SSE"
    )
    options = parser.parse_args()
    if options.dialects:
        report(dialect_scenarios(options.requests))
        return
    results: list[LoadResult] = []
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        process(
            [sys.executable, str(ROOT / "bench" / "fast_upstream.py"), str(up_port := free_port())]
        ),
    ):
        upstream = f"http://127.0.0.1:{up_port}"
        wait_http(f"{upstream}/v1/models")
        results += measure("direct", f"{upstream}/v1/chat/completions", headers, options.requests)
        scenarios = (
            ("tollway-null", "null"),
            ("tollway-embedded", ""),
            ("tollway-emb-2w", "workers=2"),
        )
        for name, mode in scenarios:
            with tollway(Path(tmp) / name, upstream, mode=mode) as (url, key):
                auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
                results += measure(name, f"{url}/v1/chat/completions", auth, options.requests)
        if not options.skip_proxy:
            results += proxy_scenarios(Path(tmp), upstream, options.requests)
    report(results)


def dialect_scenarios(total: int) -> list[LoadResult]:
    """Every dialect through the embedded engine to one chat-only upstream."""
    results: list[LoadResult] = []
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"}
    with (
        tempfile.TemporaryDirectory() as tmp,
        process(
            [sys.executable, str(ROOT / "bench" / "fast_upstream.py"), str(up_port := free_port())]
        ),
    ):
        upstream = f"http://127.0.0.1:{up_port}"
        wait_http(f"{upstream}/v1/models")
        for suffix, _, body in DIALECTS[:2]:
            url = f"{upstream}/v1/chat/completions"
            results += measure(f"direct-{suffix}", url, headers, total, body=body)
        with tollway(Path(tmp) / "dialects", upstream) as (url, key):
            auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            for suffix, path, body in DIALECTS:
                results += measure(f"tw-{suffix}", f"{url}{path}", auth, total, body=body)
    return results


def proxy_scenarios(tmp: Path, upstream: str, total: int) -> list[LoadResult]:
    config = tmp / "proxy.yaml"
    proxy_config(config, upstream)
    port = free_port()
    master = "sk-bench-" + secrets.token_hex(12)
    proxy = start_litellm_proxy(
        config,
        port=port,
        master_key=SecretValue(master),
        env={"BENCH_UPSTREAM_KEY": UPSTREAM_KEY},
        log_path=tmp / "proxy.log",
    )
    try:
        proxy_url = f"http://127.0.0.1:{port}"
        wait_ready(proxy_url, timeout=120)
        auth = {"Content-Type": "application/json", "Authorization": f"Bearer {master}"}
        results = measure("litellm-proxy", f"{proxy_url}/v1/chat/completions", auth, total // 4)
        # What tollway's remote engine sends: a wildcard model with per-call credentials.
        wild = {
            **json.loads(BODY),
            "model": "openai/bench",
            "api_key": UPSTREAM_KEY,
            "api_base": f"{upstream}/v1",
        }
        results += measure(
            "proxy-wildcard", f"{proxy_url}/v1/chat/completions", auth, total // 4, body=wild
        )
        remote_env = {
            "TOLLWAY_ENGINE__MODE": "remote",
            "TOLLWAY_ENGINE__REMOTE_URL": proxy_url,
            "TOLLWAY_ENGINE__REMOTE_MASTER_KEY": master,
        }
        with tollway(tmp / "remote", upstream, **remote_env) as (url, key):
            tw_auth = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}
            results += measure("tollway-remote", f"{url}/v1/chat/completions", tw_auth, total // 4)
        return results
    finally:
        stop(proxy)


if __name__ == "__main__":
    main()
