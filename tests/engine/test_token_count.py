"""count_tokens' local count: close to a real tokenizer's, not tollway's admission bound
(UTF-8 bytes), and every part of the prompt counts."""

from __future__ import annotations

from typing import Any

from tollway.engine.token_count import ATTACHMENT_TOKENS, count_messages_tokens
from tollway.metering.tokens import prompt_tokens_at_most

# 1,000 English words: cl100k_base makes them 1,000 tokens, Claude's tokenizer about as many.
ENGLISH = "The quick brown fox jumps over the lazy dog. " * 100


def body(**fields: Any) -> dict[str, Any]:
    return {"model": "m", "messages": [{"role": "user", "content": ENGLISH}], **fields}


def test_english_counts_about_one_token_a_word_far_below_the_admission_bound() -> None:
    counted = count_messages_tokens(body())
    assert 1000 <= counted <= 1100
    assert prompt_tokens_at_most(body()) > 3 * counted


def test_every_part_of_the_prompt_counts() -> None:
    base = count_messages_tokens(body())
    system = count_messages_tokens(body(system=[{"type": "text", "text": ENGLISH}]))
    assert system - base >= 1000
    tool = {
        "name": "get_weather",
        "description": "The weather in a city",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    assert count_messages_tokens(body(tools=[tool])) > base + 10
    call = {"type": "tool_use", "id": "t1", "name": "get_weather", "input": {"city": "Paris"}}
    text = [{"type": "text", "text": ENGLISH}]
    result = {"type": "tool_result", "tool_use_id": "t1", "content": text}
    image = {"type": "base64", "media_type": "image/png", "data": "A" * 100_000}
    turns = [
        {"role": "user", "content": ENGLISH},
        {"role": "assistant", "content": [call]},
        {"role": "user", "content": [result, {"type": "image", "source": image}]},
    ]
    counted = count_messages_tokens({"model": "m", "messages": turns})
    # Both texts, the tool call, and the image at its flat rate, not its base64 bytes.
    assert 2000 + ATTACHMENT_TOKENS < counted < 2200 + ATTACHMENT_TOKENS
