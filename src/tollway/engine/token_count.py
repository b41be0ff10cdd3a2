"""A realistic local count of a Messages prompt's tokens (``/v1/messages/count_tokens``).

Agents (Claude Code among them) call count_tokens to decide when to compact a
conversation, so the answer must be close to what the model will count, not
tollway's admission bound (``metering.tokens.prompt_tokens_at_most``, UTF-8 bytes:
about 4x too many for English). No provider is asked: the text of the prompt
(system, every text block, tool inputs and results, tool definitions) is counted
with ``litellm.token_counter``'s tokenizer, tiktoken's ``cl100k_base`` from the
copy bundled with LiteLLM (offline: LiteLLM points ``TIKTOKEN_CACHE_DIR`` at it).
Anthropic's own tokenizer for current models is not public; cl100k is close for
English and code. Images and other base64 sources count a flat
``ATTACHMENT_TOKENS`` (Anthropic bills a large image at about that), and every
message a few tokens of framing. Counting is CPU work (~50 ms for a megabyte of
text): callers run it off the event loop.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import orjson

from tollway.engine.litellm_env import load_litellm

# A base64 image or document: about what Anthropic counts for a full-size image.
ATTACHMENT_TOKENS = 1600
# Role and turn markers around each message.
MESSAGE_FRAMING_TOKENS = 3


def count_messages_tokens(body: Mapping[str, Any]) -> int:
    """The prompt's tokens: ``system``, ``messages`` and ``tools`` of a Messages body."""
    texts: list[str] = []
    attachments = 0
    for piece in _prompt_pieces(body):
        if piece is None:
            attachments += 1
        elif piece:
            texts.append(piece)
    messages = body.get("messages")
    framing = MESSAGE_FRAMING_TOKENS * (1 + (len(messages) if isinstance(messages, list) else 0))
    counted = _token_counter("\n".join(texts)) if texts else 0
    return counted + framing + attachments * ATTACHMENT_TOKENS


def _token_counter(text: str) -> int:
    litellm: Any = load_litellm()
    counted = litellm.token_counter(text=text)
    return counted if isinstance(counted, int) else 0


def _prompt_pieces(body: Mapping[str, Any]) -> Iterator[str | None]:
    """The prompt's texts; None for each attachment counted flat."""
    yield from _content(body.get("system"))
    messages = body.get("messages")
    for message in messages if isinstance(messages, list) else []:
        if isinstance(message, Mapping):
            yield from _content(message.get("content"))
    tools = body.get("tools")
    for tool in tools if isinstance(tools, list) else []:
        if isinstance(tool, Mapping):
            yield _json({k: v for k, v in tool.items() if k != "cache_control"})


def _content(content: Any) -> Iterator[str | None]:
    if isinstance(content, str):
        yield content
    elif isinstance(content, list):
        for block in content:
            if isinstance(block, Mapping):
                yield from _block(block)


def _block(block: Mapping[str, Any]) -> Iterator[str | None]:
    kind = block.get("type")
    source = block.get("source")
    if isinstance(source, Mapping) and source.get("type") in ("base64", "url", "file"):
        yield None
    elif kind == "text":
        yield _string(block.get("text"))
    elif kind == "thinking":
        yield _string(block.get("thinking"))
    elif kind == "tool_use":
        yield _string(block.get("name"))
        yield _json(block.get("input"))
    elif kind == "tool_result":
        yield from _content(block.get("content"))
    elif kind != "redacted_thinking":  # opaque to the client and the model's own
        yield _json({k: v for k, v in block.items() if k != "cache_control"})


def _string(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _json(value: Any) -> str:
    if value is None:
        return ""
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS).decode()
