"""Shared by the conformance tests: targets, expected values, call helpers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import litellm

from tests.fakes.providers import FakeProviderServer, Family

litellm.suppress_debug_info = True  # no "Give Feedback" banners in test output

GOOD_KEY = "sk-conformance-good-0000"
BAD_KEY = "sk-conformance-bad-0000"
FAMILIES: tuple[Family, ...] = ("openai", "openrouter", "anthropic", "gemini", "cohere")
MESSAGES = [
    {"role": "system", "content": "be brief"},
    {"role": "user", "content": "hello there big world"},
]
ECHO = "hello there big world"
PROMPT_TOKENS = 6  # the fakes count words: "be brief" + "hello there big world"
COMPLETION_TOKENS = 4

Servers = dict[Family, FakeProviderServer]
Kind = Literal["chat", "embed"]


@dataclass(frozen=True, slots=True)
class Target:
    """A litellm model prefix and where its api_base must point on the fake.

    The suffixes are litellm 1.109.1's own URL rules: it appends /chat/completions
    to OpenAI-style bases, /v1/messages to Anthropic's, /models/{m}:{method} to
    Gemini's, and nothing at all to Cohere's (the base is the full URL).
    """

    prefix: str
    family: Family
    chat_suffix: str
    embed_suffix: str | None = None

    def api_base(self, servers: Servers, kind: Kind = "chat") -> str:
        suffix = self.chat_suffix if kind == "chat" else self.embed_suffix
        assert suffix is not None, f"{self.prefix} has no embeddings here"
        return servers[self.family].origin + suffix

    def model(self, name: str) -> str:
        # OpenRouter model ids carry their own vendor prefix.
        return f"{self.prefix}fake/{name}" if self.family == "openrouter" else self.prefix + name

    def wire_model(self, name: str) -> str:
        """The model name the fake sees (litellm strips its prefix)."""
        return f"fake/{name}" if self.family == "openrouter" else name


OPENAI = Target("openai/", "openai", "/v1", "/v1")
OPENROUTER = Target("openrouter/", "openrouter", "/api/v1", "/api/v1")
ANTHROPIC = Target("anthropic/", "anthropic", "")
GEMINI = Target("gemini/", "gemini", "/v1beta", "/v1beta")
COHERE_CHAT = Target("cohere_chat/", "cohere", "/v2/chat")
COHERE_EMBED = Target("cohere/", "cohere", "/v2/chat", "/v2/embed")
GROQ = Target("groq/", "openai", "/v1")
MISTRAL = Target("mistral/", "openai", "/v1")
TOGETHER = Target("together_ai/", "openai", "/v1")

CHAT_TARGETS = (OPENAI, OPENROUTER, ANTHROPIC, GEMINI, COHERE_CHAT, GROQ, MISTRAL, TOGETHER)
FAMILY_TARGETS = (OPENAI, OPENROUTER, ANTHROPIC, GEMINI, COHERE_CHAT)


def target_id(target: Target) -> str:
    return target.prefix.rstrip("/")


def completion_kwargs(target: Target, servers: Servers, name: str, **extra: Any) -> dict[str, Any]:
    """litellm.acompletion arguments for one call, retries off so attempts are countable."""
    return {
        "model": target.model(name),
        "api_key": GOOD_KEY,
        "api_base": target.api_base(servers),
        "messages": MESSAGES,
        "num_retries": 0,
        "max_retries": 0,
        "timeout": 10,
        **extra,
    }


async def collect(stream: Any) -> tuple[str, Any, int]:
    """The streamed text, the last usage seen, and how many chunks arrived."""
    text, usage, count = [], None, 0
    async for chunk in stream:
        count += 1
        if chunk.choices and chunk.choices[0].delta.content:
            text.append(chunk.choices[0].delta.content)
        usage = getattr(chunk, "usage", None) or usage
    return "".join(text), usage, count


async def failure(**kwargs: Any) -> Exception:
    """Call litellm.acompletion, consume any stream, and return what it raised."""
    try:
        response = await litellm.acompletion(**kwargs)
        if kwargs.get("stream"):
            async for _ in response:
                pass
    except Exception as exc:
        return exc
    raise AssertionError("the call succeeded")
