"""The one token estimator is an upper bound: never fewer tokens than a real
tokenizer counts, for any text (CJK and emoji included), and it counts every part of
a request a provider turns into prompt tokens."""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import tiktoken
import tokenizers
from hypothesis import given, settings
from hypothesis import strategies as st

from tollway.metering.tokens import (
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    REPLY_PRIMING_TOKENS,
    TEXT_OVERHEAD_TOKENS,
    TOOLS_OVERHEAD_TOKENS,
    prompt_tokens_at_most,
    text_tokens_at_most,
)

# The tokenizer files LiteLLM ships (no network): OpenAI's BPE ranks, Anthropic's and
# DeepSeek's HuggingFace tokenizers.
BUNDLED = Path(tiktoken.__file__).parents[1] / "litellm" / "litellm_core_utils" / "tokenizers"

Counter = Callable[[str], int]


def _tiktoken(name: str) -> Counter:
    os.environ.setdefault("TIKTOKEN_CACHE_DIR", str(BUNDLED))
    encoding = tiktoken.get_encoding(name)
    return lambda text: len(encoding.encode(text, disallowed_special=()))


def _huggingface(file: str) -> Counter:
    tokenizer = tokenizers.Tokenizer.from_file(str(BUNDLED / file))
    return lambda text: len(tokenizer.encode(text, add_special_tokens=False).ids)


@pytest.fixture(scope="module")
def real_tokenizers() -> list[Counter]:
    return [
        _tiktoken("cl100k_base"),
        _tiktoken("o200k_base"),
        _huggingface("anthropic_tokenizer.json"),
        _huggingface("deepseek_tokenizer.json"),
    ]


SAMPLES = [
    "Summarise the following text, please.",
    "请把下面这段话总结一下\uff0c谢谢\u3002数据库连接失败时应该怎么办\uff1f",  # full-width marks
    "日本語のテキストとカタカナ、ひらがな、漢字。",
    "한국어 문장도 토큰이 많습니다.",
    "🙂🚀👩‍👩‍👧‍👦 emoji sequences",
    "\u0000\u0001 control characters and \ud7ff\ue000 edge code points",
    "x" * 1000,
]


@pytest.mark.parametrize("text", SAMPLES)
def test_no_real_tokenizer_counts_more_than_the_bound(
    real_tokenizers: list[Counter], text: str
) -> None:
    bound = text_tokens_at_most(text) + TEXT_OVERHEAD_TOKENS
    assert all(count(text) <= bound for count in real_tokenizers)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200))
def test_the_bound_holds_for_any_text(text: str) -> None:
    counters = _openai_counters()
    bound = text_tokens_at_most(text) + TEXT_OVERHEAD_TOKENS
    assert all(count(text) <= bound for count in counters)


@functools.cache
def _openai_counters() -> list[Counter]:
    return [_tiktoken("cl100k_base"), _tiktoken("o200k_base")]


def test_cjk_is_counted_by_bytes_not_at_four_characters_a_token() -> None:
    text = "请把下面这段话总结一下" * 100  # 1,100 characters, 3 UTF-8 bytes each
    assert text_tokens_at_most(text) == 3300
    # cl100k needs more than one token per character here; chars/4 said 275.
    assert _tiktoken("cl100k_base")(text) > len(text)


def chat(*messages: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"messages": list(messages), **fields}


def test_a_chat_prompt_is_its_texts_plus_the_template_overheads() -> None:
    body = chat({"role": "user", "content": "x" * 400})
    expected = 400 + TEXT_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + REPLY_PRIMING_TOKENS
    assert prompt_tokens_at_most(body) == expected


def test_tool_schemas_images_and_tool_calls_are_counted() -> None:
    parameters = {"type": "object", "properties": {f"p{i}": {"type": "string"} for i in range(50)}}
    tools = [{"type": "function", "function": {"name": "f", "parameters": parameters}}]
    call = [{"id": "1", "type": "function", "function": {"name": "f", "arguments": "{}"}}]
    image = {"type": "image_url", "image_url": {"url": "data:image/png;base64," + "A" * 10**5}}
    text = {"type": "text", "text": "y" * 40}
    plain = prompt_tokens_at_most(chat({"role": "user", "content": [text]}))
    with_image = prompt_tokens_at_most(chat({"role": "user", "content": [text, image]}))
    assert with_image == plain + IMAGE_TOKENS  # by size, never by the base64 bytes
    with_tools = prompt_tokens_at_most(chat({"role": "user", "content": [text]}, tools=tools))
    assert with_tools > plain + TOOLS_OVERHEAD_TOKENS + len(str(parameters)) // 2
    answered = chat({"role": "user", "content": [text]}, {"role": "assistant", "tool_calls": call})
    assert prompt_tokens_at_most(answered) > plain + MESSAGE_OVERHEAD_TOKENS + 40


def test_a_json_schema_response_format_counts_like_a_tool() -> None:
    schema = {"type": "json_schema", "json_schema": {"name": "s", "schema": {"type": "object"}}}
    base = chat({"role": "user", "content": "hi"})
    assert prompt_tokens_at_most({**base, "response_format": schema}) > (
        prompt_tokens_at_most(base) + TOOLS_OVERHEAD_TOKENS
    )
    text_format = {**base, "response_format": {"type": "text"}}
    assert prompt_tokens_at_most(text_format) == prompt_tokens_at_most(base)


@pytest.mark.parametrize(
    ("body", "tokens"),
    [
        ({"prompt": "z" * 80}, 81),
        ({"prompt": ["z" * 40, "z" * 40]}, 82),
        ({"prompt": "z", "suffix": "zz"}, 5),
        ({"input": [1, 2, 3, 4, 5]}, 6),  # token ids are tokens already
        ({"input": [[1, 2], [3]]}, 5),
        ({"input": "日本"}, 7),
        ({}, 0),
    ],
)
def test_completions_and_embeddings_bodies(body: dict[str, Any], tokens: int) -> None:
    assert prompt_tokens_at_most(body) == tokens


def test_odd_shapes_are_counted_not_refused() -> None:
    body = chat("not a message", {"content": [3, {"type": "audio", "data": "a" * 8}]})  # type: ignore[arg-type]
    assert prompt_tokens_at_most(body) > 2 * MESSAGE_OVERHEAD_TOKENS + 8
