"""A scripted, bounded load on two tollway replicas, sent with the openai SDK: chat
answered as JSON and streamed, embeddings, a fallback to OpenRouter (JSON and
streamed), an upstream failure, refusals by a budget and by a rate limit, a client
that leaves mid-stream, and unpriced requests. Split between the replicas so each
has series of its own."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import openai
import pytest

from tests.fakes.providers import Behaviour, FakeProviderServer, ModelBehaviour
from tests.inference.conftest import Tollway, unique

MESSAGES = [{"role": "user", "content": "count these words for the dashboards"}]
# Whole micro-dollars per token: every cost is exact in decimal, only Prometheus's
# float sums round.
PRICE = ("0.000001", "0.000002")  # USD per token in, out
SLOW_REPLY = " ".join(f"w{i}" for i in range(40))


@dataclass(frozen=True)
class Models:
    ok: str  # priced, answers
    slow: str  # priced, streams a word every 50 ms (the client leaves early)
    unpriced: str  # no price anywhere: recorded with an unknown cost
    limited: str  # its upstream answers 429; falls back to OpenRouter
    broken: str  # its upstream answers 500; no fallback, the client gets a 502


@dataclass(frozen=True)
class Keys:
    free: str  # its team has a budget it does not exhaust
    budget: str  # its team has a USD budget smaller than any request
    rate: str  # a tokens-per-minute limit smaller than any request


@dataclass(frozen=True)
class Step:
    name: str
    replica: Tollway
    admitted: bool  # leaves a usage record (a refusal does not)
    run: Callable[[], None]


def setup(
    admin: Tollway, upstream: FakeProviderServer, openrouter: FakeProviderServer
) -> tuple[Models, Keys]:
    """Providers, models, prices, teams, keys and limits, through one replica's
    admin API (the replicas share the database)."""
    main = _provider(admin, upstream, "openai_compatible")
    # Its own provider key: an upstream 429 may rest the key it came on.
    limited_provider = _provider(admin, upstream, "openai_compatible")
    _provider(admin, openrouter, "openrouter")
    models = Models(*(unique(role) for role in ("ok", "slow", "unpriced", "limited", "broken")))
    upstream.script_model(
        models.slow, ModelBehaviour.ok(SLOW_REPLY) | ModelBehaviour.slow_chunks(0.05)
    )
    upstream.script_model(models.limited, ModelBehaviour.rate_limited("1"))
    upstream.script_model(models.broken, ModelBehaviour.server_error(500))
    for name in (models.ok, models.slow, models.broken):
        _price(admin, main, admin.model(main, name))
    admin.model(main, models.unpriced)
    # Never reached: it is there so that the provider scope has a limit to show.
    provider_limit = {"scope": "provider", "scope_id": main["id"], "requests_per_minute": 10**4}
    admin.post("/limits", provider_limit)
    fallback = {"openrouter_model_id": f"vendor/{models.limited}"}
    _price(admin, limited_provider, admin.model(limited_provider, models.limited, **fallback))
    # A budget the load spends a little of (burn-down panels), one it cannot afford.
    free, budget = (_key(admin, team_usd_total=usd) for usd in ("100", "0.000001"))
    return models, Keys(free, budget, _key(admin, tokens=5))


def wait_served(replica: Tollway, models: Models, keys: Keys) -> None:
    """Until ``replica``'s routing table has what ``setup`` made."""
    for key in (keys.free, keys.budget, keys.rate):
        replica.wait_for_model(key, models.ok, timeout=10)
    replica.wait_for_model(keys.free, models.limited, timeout=10)


def _provider(admin: Tollway, server: FakeProviderServer, kind: str) -> dict[str, Any]:
    api_key = f"sk-{kind}-{os.urandom(8).hex()}"
    server.set_key(api_key, Behaviour.ok())
    return admin.provider(kind, name=unique(kind), api_key=api_key, base_url=server.base_url)


def _price(admin: Tollway, provider: dict[str, Any], model: dict[str, Any]) -> None:
    prices = {"input_price_per_token": PRICE[0], "output_price_per_token": PRICE[1]}
    admin.post("/pricing", {"provider_id": provider["id"], "model_id": model["id"], **prices})


def _key(admin: Tollway, *, team_usd_total: str | None = None, tokens: int | None = None) -> str:
    """A key of a new team, with the limits before the models' routing table is
    waited for: the table that serves the key knows its limits."""
    team = admin.post("/teams", {"name": unique("team")})
    if team_usd_total is not None:
        admin.post(
            "/limits", {"scope": "team", "scope_id": team["id"], "usd_total": team_usd_total}
        )
    created = admin.post("/keys", {"name": unique("agent"), "team_id": team["id"]})
    if tokens is not None:
        limit = {"scope": "tollway_key", "scope_id": created["id"], "tokens_per_minute": tokens}
        admin.post("/limits", limit)
    return str(created["key"])


def steps(replicas: tuple[Tollway, Tollway], models: Models, keys: Keys) -> list[Step]:
    a, b = replicas
    return [
        Step("chat", a, True, lambda: _chat(a, keys.free, models.ok)),
        Step("chat streamed", b, True, lambda: _stream(b, keys.free, models.ok)),
        Step("embeddings", a, True, lambda: _embed(a, keys.free, models.ok)),
        Step("fallback to OpenRouter", a, True, lambda: _chat(a, keys.free, models.limited)),
        Step("fallback, streamed", b, True, lambda: _stream(b, keys.free, models.limited)),
        Step("upstream 500", b, True, lambda: _fails(b, keys.free, models.broken, 502)),
        Step("over the team budget", a, False, lambda: _fails(a, keys.budget, models.ok, 429)),
        Step("over the rate limit", b, False, lambda: _fails(b, keys.rate, models.ok, 429)),
        Step("client leaves mid-stream", b, True, lambda: _leave(b, keys.free, models.slow)),
        Step("unpriced", a, True, lambda: _chat(a, keys.free, models.unpriced)),
        Step("unpriced, streamed", b, True, lambda: _stream(b, keys.free, models.unpriced)),
    ]


def _sdk(replica: Tollway, key: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=replica.v1, api_key=key, max_retries=0, timeout=30)


def _chat(replica: Tollway, key: str, model: str) -> None:
    with _sdk(replica, key) as sdk:
        answer = sdk.chat.completions.create(model=model, messages=MESSAGES)  # type: ignore[arg-type]
    assert answer.usage is not None
    assert answer.usage.total_tokens > 0


def _stream(replica: Tollway, key: str, model: str) -> None:
    with _sdk(replica, key) as sdk:
        chunks = sdk.chat.completions.create(
            model=model,
            messages=MESSAGES,  # type: ignore[arg-type]
            stream=True,
            stream_options={"include_usage": True},
        )
        usage = [chunk.usage for chunk in chunks if chunk.usage]
    assert usage
    assert usage[-1].total_tokens > 0


def _embed(replica: Tollway, key: str, model: str) -> None:
    with _sdk(replica, key) as sdk:
        answer = sdk.embeddings.create(model=model, input=["one", "two words"])
    assert len(answer.data) == 2


def _fails(replica: Tollway, key: str, model: str, status: int) -> None:
    with _sdk(replica, key) as sdk, pytest.raises(openai.APIStatusError) as refused:
        sdk.chat.completions.create(model=model, messages=MESSAGES, max_tokens=100)  # type: ignore[arg-type]
    assert refused.value.status_code == status, refused.value


def _leave(replica: Tollway, key: str, model: str) -> None:
    """Read three chunks, then close the connection with the stream still going."""
    with _sdk(replica, key) as sdk:
        chunks = sdk.chat.completions.create(model=model, messages=MESSAGES, stream=True)  # type: ignore[arg-type]
        for received, _ in enumerate(chunks, start=1):
            if received == 3:
                break
        chunks.close()
