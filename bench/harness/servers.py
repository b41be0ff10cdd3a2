"""Starting and stopping what the harness measures, each in its own process group.

A ``Gateway`` knows how to start one server and how to address each case to it;
``Running`` is the started server: the process trees to account and a function that
turns a case into a request (``None`` when the gateway does not serve that case).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from harness import canned, procstat
from tollway.engine.proxy_process import start_litellm_proxy, wait_ready
from tollway.routing.litellm_config import DeploymentSpec, render_config
from tollway.secrets.base import SecretValue

ROOT = Path(__file__).resolve().parents[2]
UPSTREAM_KEY = "sk-bench-upstream-key"
PORTKEY_DIR = ROOT / ".tools" / "portkey"
PORTKEY_PACKAGE = "@portkey-ai/gateway"
LOAD_CPU = 0  # wrk, the canned upstream and this harness
GATEWAY_CPU = 1  # the gateway under test, alone
REDIS_URL = "redis://127.0.0.1:6379/14"  # its own database: other users keep theirs
CASES = (
    "chat-json",
    "chat-sse",
    "resp-json",
    "resp-sse",
    "msg-json",
    "msg-sse",
    "anth-chat-json",
    "anth-chat-sse",
    "anth-msg-json",
    "anth-msg-sse",
)
_PATHS = {"chat": "/v1/chat/completions", "resp": "/v1/responses", "msg": "/v1/messages"}


@dataclass(frozen=True)
class Request:
    url: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Running:
    name: str
    roots: list[int]  # process trees whose CPU and memory are the gateway's
    request: Callable[[str], Request | None]
    note: str = ""
    idle_rss_mib: float | None = None
    extra: dict[str, object] = field(default_factory=dict)


def dialect(case: str) -> str:
    """ "anth-chat-sse" → "chat": the wire the client speaks."""
    return case.removeprefix("anth-").rsplit("-", 1)[0]


def streamed(case: str) -> bool:
    return case.endswith("-sse")


def upstream_prefix(case: str) -> str:
    """The canned upstream's path prefix serving this case's answers."""
    family = "anth" if case.startswith("anth-") else "oai"
    return f"/{family}-{'sse' if streamed(case) else 'json'}"


def body(case: str, model: str) -> bytes:
    hi = [{"role": "user", "content": "hi"}]
    shapes: dict[str, dict[str, object]] = {
        "chat": {"model": model, "max_tokens": 16, "messages": hi},
        "resp": {"model": model, "input": "hi"},
        "msg": {"model": model, "max_tokens": 16, "messages": hi},
    }
    document = shapes[dialect(case)]
    if streamed(case):
        document["stream"] = True
    return json.dumps(document).encode()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(
    url: str, timeout: float = 240, process: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"exited with status {process.returncode} before {url} answered")
        with contextlib.suppress(httpx.TransportError):
            if httpx.get(url, timeout=2, trust_env=False).status_code < 500:
                return
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not come up in {timeout:g} s")


def stop_group(process: subprocess.Popen[bytes], grace: float = 15) -> None:
    """SIGTERM the process group (workers and all), SIGKILL what outlives ``grace``."""
    if process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=5)


@contextlib.contextmanager
def spawned(
    args: list[str], log: Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> Iterator[subprocess.Popen[bytes]]:
    with open(log, "ab") as out:
        process = subprocess.Popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=cwd,
            start_new_session=True,  # its own group: stop_group reaches its workers
        )
    try:
        yield process
    finally:
        stop_group(process)


def pinned(cpus: str, args: list[str]) -> list[str]:
    return ["taskset", "-c", cpus, *args]


# ---- nginx: the canned upstream and the hop ------------------------------------------


@contextlib.contextmanager
def nginx(work: Path, conf: str, cpus: str) -> Iterator[subprocess.Popen[bytes]]:
    work.mkdir(parents=True, exist_ok=True)
    path = work / "nginx.conf"
    path.write_text(conf)
    with spawned(pinned(cpus, ["nginx", "-c", str(path), "-p", str(work)]), work / "out.log") as p:
        yield p


@contextlib.contextmanager
def upstream(work: Path, cpu: int = LOAD_CPU) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    with nginx(work / "upstream", canned.upstream_conf(work / "upstream", port), str(cpu)) as p:
        url = f"http://127.0.0.1:{port}"
        wait_http(f"{url}/oai-json/health", process=p)
        yield url, p


def _same_path(base: str, cases: tuple[str, ...]) -> Callable[[str], Request | None]:
    """Direct calls, and hops that forward the path unchanged."""
    headers = {"Content-Type": "application/json", "Authorization": f"Bearer {UPSTREAM_KEY}"}

    def request(case: str) -> Request | None:
        if case not in cases:
            return None
        url = f"{base}{upstream_prefix(case)}/v1{_PATHS[dialect(case)]}"
        return Request(url, headers, body(case, "bench"))

    return request


def direct(up: str, up_process: subprocess.Popen[bytes]) -> Running:
    cases = ("chat-json", "chat-sse", "resp-json", "resp-sse", "anth-msg-json", "anth-msg-sse")
    return Running("direct", [up_process.pid], _same_path(up, cases), "nginx itself (core 0)")


@contextlib.contextmanager
def nginx_hop(work: Path, up: str, cpu: int = GATEWAY_CPU) -> Iterator[Running]:
    port = free_port()
    conf = canned.hop_conf(work / "hop", port, int(up.rsplit(":", 1)[1]))
    with nginx(work / "hop", conf, str(cpu)) as process:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/oai-json/health", process=process)
        cases = ("chat-json", "chat-sse")
        yield Running("nginx-hop", [process.pid], _same_path(base, cases), "proxy_pass, keepalive")


@contextlib.contextmanager
def aiohttp_passthrough(work: Path, up: str, cpu: int = GATEWAY_CPU) -> Iterator[Running]:
    port = free_port()
    script = Path(__file__).with_name("passthrough.py")
    args = pinned(str(cpu), [sys.executable, str(script), str(port), up])
    with spawned(args, work / "aiohttp.log") as process:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/oai-json/health", process=process)
        cases = ("chat-json", "chat-sse")
        note = "bench/harness/passthrough.py, one pooled ClientSession"
        yield Running("aiohttp", [process.pid], _same_path(base, cases), note)


# ---- LiteLLM proxy ---------------------------------------------------------------------


def model_name(case: str) -> str:
    """The model a configured gateway (LiteLLM proxy, tollway) serves this case with."""
    family = "anth-" if case.startswith("anth-") else ""
    return f"{family}{'sse' if streamed(case) else 'json'}"


def litellm_config(path: Path, up: str) -> None:
    specs = [
        DeploymentSpec(
            deployment_id=model_name(case),
            public_name=model_name(case),
            litellm_model=("anthropic/bench" if case.startswith("anth-") else "openai/bench"),
            # LiteLLM appends /v1/messages to an Anthropic base, /chat/completions to OpenAI's.
            api_base=up + upstream_prefix(case) + ("" if case.startswith("anth-") else "/v1"),
            key_env="BENCH_UPSTREAM_KEY",
        )
        for case in ("chat-json", "chat-sse", "anth-chat-json", "anth-chat-sse")
    ]
    path.write_text(render_config(specs, timeout_seconds=60))


@contextlib.contextmanager
def litellm_proxy(work: Path, up: str, cpu: int = GATEWAY_CPU) -> Iterator[Running]:
    config = work / "litellm.yaml"
    litellm_config(config, up)
    port = free_port()
    master = "sk-bench-" + secrets.token_hex(12)
    process = start_litellm_proxy(
        config,
        port=port,
        master_key=SecretValue(master),
        env={"BENCH_UPSTREAM_KEY": UPSTREAM_KEY},
        log_path=work / "litellm.log",
    )
    try:
        procstat.pin([process.pid], {cpu})
        base = f"http://127.0.0.1:{port}"
        wait_ready(base, timeout=180, process=process)
        procstat.pin([process.pid], {cpu})  # threads started while booting
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {master}"}

        def request(case: str) -> Request | None:
            if dialect(case) != "chat":
                return None
            return Request(f"{base}/v1/chat/completions", headers, body(case, model_name(case)))

        yield Running("litellm", [process.pid], request, "litellm --config, 1 worker")
    finally:
        stop_group(process)


# ---- Portkey (optional) ----------------------------------------------------------------


def portkey_entry() -> Path:
    return PORTKEY_DIR / "node_modules" / "@portkey-ai" / "gateway" / "build" / "start-server.js"


def install_portkey() -> str | None:
    """Install the gateway with npm once; returns why not, or None when it is there."""
    if portkey_entry().exists():
        return None
    PORTKEY_DIR.mkdir(parents=True, exist_ok=True)
    try:
        subprocess.run(
            [
                "npm",
                "install",
                "--no-audit",
                "--no-fund",
                "--prefix",
                str(PORTKEY_DIR),
                PORTKEY_PACKAGE,
            ],
            capture_output=True,
            check=True,
            timeout=600,
        )
    except FileNotFoundError:
        return "npm not found"
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as exc:
        return f"npm install failed: {exc}"
    return None if portkey_entry().exists() else "npm installed no start-server.js"


def node_version() -> str:
    done = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return done.stdout.strip()


@contextlib.contextmanager
def portkey(work: Path, up: str, cpu: int = GATEWAY_CPU) -> Iterator[Running]:
    missing = install_portkey()
    if missing is not None:
        raise RuntimeError(missing)
    port = free_port()
    args = pinned(str(cpu), ["node", str(portkey_entry()), f"--port={port}", "--headless"])
    with spawned(args, work / "portkey.log", cwd=PORTKEY_DIR) as process:
        base = f"http://127.0.0.1:{port}"
        wait_http(f"{base}/", process=process, timeout=60)

        def request(case: str) -> Request | None:
            if dialect(case) != "chat":
                return None
            anthropic = case.startswith("anth-")
            headers = {
                "Content-Type": "application/json",
                "Authorization": f"Bearer {UPSTREAM_KEY}",
                "x-portkey-provider": "anthropic" if anthropic else "openai",
                "x-portkey-custom-host": f"{up}{upstream_prefix(case)}/v1",
            }
            return Request(f"{base}/v1/chat/completions", headers, body(case, "bench"))

        version = json.loads((portkey_entry().parents[1] / "package.json").read_text())["version"]
        note = f"node {node_version()}, {PORTKEY_PACKAGE} {version}"
        yield Running("portkey", [process.pid], request, note)


# ---- tollway ---------------------------------------------------------------------------


def tollway_env(data_dir: Path, admin: str, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLWAY_")}
    env.update(
        TOLLWAY_DATA_DIR=str(data_dir),
        TOLLWAY_ADMIN_TOKEN=admin,
        TOLLWAY_LOG_LEVEL="WARNING",
        **extra,
    )
    return env


def configure_tollway(url: str, admin: str, up: str, replicas: int) -> str:
    """One provider and model per upstream shape, and a key; returns the key."""
    with httpx.Client(
        base_url=f"{url}/admin/v1", headers={"Authorization": f"Bearer {admin}"}, trust_env=False
    ) as client:
        for case in ("chat-json", "chat-sse", "anth-chat-json", "anth-chat-sse"):
            anthropic = case.startswith("anth-")
            provider = client.post(
                "/providers",
                json={
                    "name": model_name(case),
                    "type": "anthropic" if anthropic else "openai_compatible",
                    "api_key": UPSTREAM_KEY,
                    "base_url": f"{up}{upstream_prefix(case)}" + ("" if anthropic else "/v1"),
                },
            )
            provider.raise_for_status()
            model = client.post(
                "/models",
                params={"skip_catalog_check": "true"},  # the canned upstream lists nothing
                json={
                    "provider_id": provider.json()["id"],
                    "model_id": "bench",
                    "name": model_name(case),
                },
            )
            model.raise_for_status()
        key: str = client.post("/keys", json={"name": "bench"}).json()["key"]
    wait_models(url, key, replicas)
    return key


def wait_models(url: str, key: str, replicas: int) -> None:
    """Until every worker's routing table has the models (a few answers in a row)."""
    wanted = {"json", "sse", "anth-json", "anth-sse"}
    streak, deadline = 0, time.monotonic() + 30
    while streak < 4 * replicas:
        if time.monotonic() > deadline:
            raise RuntimeError("the bench models never reached the routing table")
        answer = httpx.get(
            f"{url}/v1/models", headers={"Authorization": f"Bearer {key}"}, trust_env=False
        ).json()
        served = {m["id"] for m in answer.get("data", [])}
        streak = streak + 1 if wanted <= served else 0
        time.sleep(0.1 if streak else 0.3)


@contextlib.contextmanager
def tollway(work: Path, up: str, workers: int, cpu: int = GATEWAY_CPU) -> Iterator[Running]:
    name = "tollway" if workers == 1 else f"tollway-{workers}w"
    port = free_port()
    admin = "twadmin-bench-" + secrets.token_hex(8)
    extra: dict[str, str] = {}
    mode: list[str] = []
    cpus = str(cpu)
    note = "1 worker, embedded engine"
    if workers > 1:
        # --workers needs a shared secret backend (local is) and shares quotas through
        # Redis; the bench key has no limits, so admission makes no Redis round trip.
        extra = {"TOLLWAY_QUOTAS__BACKEND": "redis", "TOLLWAY_QUOTAS__REDIS_URL": REDIS_URL}
        mode = [f"workers={workers}"]
        cpus = "0-1"
        note = f"{workers} workers on both cores (shared with wrk and nginx), Redis quotas"
    script = ROOT / "bench" / "serve_tollway.py"
    args = pinned(cpus, [sys.executable, str(script), str(port), *mode])
    env = tollway_env(work / name, admin, **extra)
    with spawned(args, work / f"{name}.log", env=env) as process:
        url = f"http://127.0.0.1:{port}"
        # Each worker imports LiteLLM: minutes when other work shares the machine.
        wait_http(f"{url}/health", timeout=600, process=process)
        key = configure_tollway(url, admin, up, workers)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {key}"}

        def request(case: str) -> Request | None:
            if workers > 1 and case not in ("chat-json", "chat-sse"):
                return None
            path = _PATHS[dialect(case)]
            return Request(f"{url}{path}", headers, body(case, model_name(case)))

        time.sleep(1)  # let start-up work settle before the idle reading
        running = Running(name, [process.pid], request, note)
        running.idle_rss_mib = procstat.rss_mib([process.pid])
        yield running
