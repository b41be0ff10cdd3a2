"""Small shared pieces: message scrubbing, usage and cost parsing, the offline environment,
the proxy child's environment."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from tests.fakes.providers.wire import credential_encodings
from tollway.engine.base import Endpoint, EngineCall, Target, TokenUsage
from tollway.engine.litellm_env import OFFLINE_ENV, apply_offline_env
from tollway.engine.proxy_process import proxy_environment
from tollway.engine.wire import (
    allowed_openai_params,
    clean_text,
    litellm_api_base,
    parse_retry_after,
    positive_cost,
    scrub,
    upstream_error,
    usage_from,
)
from tollway.secrets.base import SecretValue


def test_scrub_removes_every_form_of_the_key_and_nothing_else() -> None:
    secret = "sk-live-abc/def+0123456789"
    echoed = credential_encodings(secret)
    text = f"model sk-ant-api03-zzzzzzzz, dir /tmp/tw-data: bad key {secret}, {' '.join(echoed)}"
    cleaned = scrub(text, secret)
    for leak in (secret, *echoed):
        assert leak not in cleaned
    assert "model sk-ant-api03-zzzzzzzz, dir /tmp/tw-data" in cleaned
    assert "organization" in scrub("the organization is over quota")
    assert len(scrub("x" * 5000)) == 300


def test_clean_text_strips_litellms_decorations() -> None:
    raw = (
        "litellm.RateLimitError: RateLimitError: OpenAIException - slow down\n\n"
        "LiteLLM: model group 'openai/x' failed with the error above. No fallback was attempted."
    )
    assert clean_text(raw) == "slow down"
    assert (
        clean_text("litellm.Timeout: APITimeoutError - Request timed out.") == "Request timed out."
    )


def test_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    later = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    assert 25 <= (parse_retry_after(later) or 0) <= 31


def test_usage_and_cost() -> None:
    raw = {
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "total_tokens": 15,
        "prompt_tokens_details": {"cached_tokens": 4},
        "completion_tokens_details": {"reasoning_tokens": 2},
    }
    assert usage_from(raw) == TokenUsage(10, 5, 15, 4, 2)
    assert usage_from({"prompt_tokens": 3}) == TokenUsage(3, 0, 3)
    assert usage_from(None) is None
    assert positive_cost("4.05e-06") == pytest.approx(4.05e-6)
    assert positive_cost(0.0) is None  # LiteLLM's "unpriced"
    assert positive_cost("nan") is None


@pytest.mark.parametrize(
    ("status", "retryable", "key_rejected"),
    [
        (400, False, False),
        (401, False, True),
        (402, False, True),
        (403, False, True),
        (404, False, False),
        (408, True, False),
        (429, True, False),
        (500, True, False),
        (501, False, False),
        (503, True, False),
    ],
)
def test_status_rules(status: int, retryable: bool, key_rejected: bool) -> None:
    error = upstream_error(status, "m")
    assert (error.retryable, error.key_rejected) == (retryable, key_rejected)


@pytest.mark.parametrize(
    ("model", "endpoint", "base", "expected"),
    [
        (
            "gemini/g",
            Endpoint.CHAT,
            "https://generativelanguage.googleapis.com",
            "https://generativelanguage.googleapis.com/v1beta",
        ),
        ("gemini/g", Endpoint.CHAT, "http://h/v1beta/", "http://h/v1beta"),
        (
            "cohere_chat/c",
            Endpoint.CHAT,
            "https://api.cohere.com",
            "https://api.cohere.com/v2/chat",
        ),
        (
            "cohere/e",
            Endpoint.EMBEDDINGS,
            "https://api.cohere.com",
            "https://api.cohere.com/v2/embed",
        ),
        ("cohere/e", Endpoint.EMBEDDINGS, "http://h/v2/embed", "http://h/v2/embed"),
        ("anthropic/a", Endpoint.CHAT, "https://api.anthropic.com/v1", "https://api.anthropic.com"),
        ("openai/o", Endpoint.CHAT, "http://vllm:8000/v1/", "http://vllm:8000/v1"),
        ("openai/o", Endpoint.CHAT, None, None),
    ],
)
def test_api_base_in_litellms_form(
    model: str, endpoint: Endpoint, base: str | None, expected: str | None
) -> None:
    call = EngineCall(endpoint, {}, Target("d", model, None, base, 1.0))
    assert litellm_api_base(call) == expected


def test_user_is_kept_for_openai_style_models() -> None:
    assert allowed_openai_params({"user": "u"}, "openai/llama") == ["user"]
    assert allowed_openai_params({"user": "u"}, "anthropic/claude") == []
    assert allowed_openai_params({}, "openai/llama") == []


def test_offline_env_never_overrides_an_explicit_choice() -> None:
    environ = {"LITELLM_OFFLINE_MODE": "false"}
    apply_offline_env(environ)
    assert environ["LITELLM_OFFLINE_MODE"] == "false"
    assert environ["LITELLM_TELEMETRY_DISABLED"] == OFFLINE_ENV["LITELLM_TELEMETRY_DISABLED"]


def test_proxy_child_environment_is_minimal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("UNRELATED_SECRET", "do-not-pass")
    child = proxy_environment(
        SecretValue("sk-master-0000"),
        {"TW_PROVIDER_KEY_AB": SecretValue("sk-provider-1111"), "EXTRA": "plain"},
    )
    assert "UNRELATED_SECRET" not in child
    assert child["LITELLM_MASTER_KEY"] == "sk-master-0000"
    assert child["TW_PROVIDER_KEY_AB"] == "sk-provider-1111"
    assert child["EXTRA"] == "plain"
    assert all(child[name] == value for name, value in OFFLINE_ENV.items())
    assert child.get("PATH") == os.environ.get("PATH")
