"""How many tokens a text or a /v1 request can be, without a tokenizer: upper bounds.

This is tollway's one token estimator. Admission reserves a request's prompt with
``prompt_tokens_at_most``; metering counts a stream (or an answer) that reported no
usage with ``text_tokens_at_most``. Both err high, never low: a budget must not be
overshot because a prompt was written in Chinese or carried a large tool schema.

Why the UTF-8 length of a text bounds its token count, for every tokenizer family
the providers behind LiteLLM use:

- Byte-level BPE (OpenAI's cl100k/o200k, Llama 3, Qwen, Mistral's Tekken, Claude):
  encoding starts from one token per UTF-8 byte and every merge replaces two tokens
  by one, so a text of ``b`` bytes never becomes more than ``b`` tokens.
- SentencePiece (Gemini and Gemma, Llama 2, Mistral v1), BPE or unigram: each
  character becomes at most one piece, or, when it is outside the vocabulary, one
  byte-fallback token per UTF-8 byte (or a single ``<unk>``): again at most ``b``.
  Its "dummy prefix" can add one ``▁`` symbol per text; so can a BOS token.
- WordPiece (BERT-style embedding models): a word becomes at most one piece per
  character, or one ``[UNK]``.

So ``tokens <= utf8_bytes + 1`` per separately encoded text. What the provider adds
around the texts is not derivable from them: chat templates (OpenAI documents 3
tokens per message and 3 priming the reply, Llama 3 and Gemma use 5-6 special tokens
per turn), the system prompt Anthropic adds when tools are given (313-530 tokens,
per its docs), the rendering of tool schemas (providers rewrite the JSON, e.g. as
TypeScript, which is shorter than the JSON but adds a few tokens per function), and
images (OpenAI high detail at most 1,445 tokens for its 4o family, Anthropic about
1,600 at its 1.15 megapixel cap). The constants below cover those with a margin.
Usage a provider reports above the reservation anyway (e.g. gpt-4o-mini, which
counts images at ~33x) is billed as reported and flagged ``over_reservation``.

Cost: a length per string (``len`` for ASCII text, an encode otherwise) and one
``orjson.dumps`` per non-text part. A tokenizer would be exact for one model family
only (tiktoken knows OpenAI's) and costs far more on a long prompt.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

MESSAGE_OVERHEAD_TOKENS = 16  # a chat turn's special tokens, its role and name framing
REPLY_PRIMING_TOKENS = 8  # the assistant turn every chat prompt ends with
TEXT_OVERHEAD_TOKENS = 1  # SentencePiece's dummy prefix or a BOS, per encoded text
TOOLS_OVERHEAD_TOKENS = 1024  # a provider's tool-use system prompt (Anthropic: <= 530)
TOOL_OVERHEAD_TOKENS = 32  # per tool or function: its rendering's fixed framing
IMAGE_TOKENS = 1600  # one image at the largest size OpenAI and Anthropic bill

__all__ = [
    "IMAGE_TOKENS",
    "MESSAGE_OVERHEAD_TOKENS",
    "REPLY_PRIMING_TOKENS",
    "TEXT_OVERHEAD_TOKENS",
    "TOOLS_OVERHEAD_TOKENS",
    "TOOL_OVERHEAD_TOKENS",
    "prompt_tokens_at_most",
    "text_tokens_at_most",
    "tokens_if_text",
]

_IMAGE_PARTS = frozenset({"image_url", "image", "input_image"})
# Request fields a provider renders into the prompt as tool definitions.
_SCHEMA_FIELDS = ("tools", "functions")


def text_tokens_at_most(text: str) -> int:
    """Tokens ``text`` can be at most: its UTF-8 length (see the module docstring).

    For a streamed delta too: each delta is a piece of one text, so the bytes of
    all deltas bound the tokens of the whole reply.
    """
    # str.isascii() reads a flag CPython keeps on every string: no scan, no copy.
    return len(text) if text.isascii() else len(text.encode("utf-8", "surrogatepass"))


def tokens_if_text(value: Any) -> int:
    """``text_tokens_at_most`` of a string, 0 for anything else (parsed JSON's fields)."""
    # An exact type test: it runs for every streamed delta.
    return text_tokens_at_most(value) if type(value) is str else 0


def prompt_tokens_at_most(body: Mapping[str, Any]) -> int:
    """Prompt tokens a /v1 body of any dialect can be at most: chat's ``messages``,
    the Responses API's ``instructions`` and ``input`` items, Anthropic's ``system``."""
    tokens = 0
    for name in ("instructions", "system"):  # text, or a list of text blocks
        value = body.get(name)
        if value is not None:
            tokens += MESSAGE_OVERHEAD_TOKENS + _content_tokens(value)
    messages = body.get("messages")
    if isinstance(messages, list):
        tokens += REPLY_PRIMING_TOKENS
        for message in messages:
            tokens += MESSAGE_OVERHEAD_TOKENS + _message_tokens(message)
    for name in ("prompt", "input", "suffix"):
        value = body.get(name)
        if value is not None:
            tokens += _input_tokens(value)
    return tokens + _schemas_tokens(body)


def _schemas_tokens(body: Mapping[str, Any]) -> int:
    """Tool definitions and output schemas, which providers render into the prompt."""
    tokens = 0
    for name in _SCHEMA_FIELDS:
        value = body.get(name)
        if value:
            tokens += _schema_tokens(value)
    response_format = body.get("response_format")
    if isinstance(response_format, Mapping) and response_format.get("type") == "json_schema":
        # LiteLLM hands a JSON schema to some families as a tool: priced like one.
        tokens += _schema_tokens(response_format)
    text = body.get("text")  # the Responses API's output format
    if isinstance(text, Mapping) and isinstance(text.get("format"), Mapping):
        tokens += _schema_tokens(text["format"])
    return tokens


def _message_tokens(message: Any) -> int:
    if not isinstance(message, Mapping):
        return _json_tokens(message)
    tokens = _content_tokens(message.get("content"))
    for field in ("tool_calls", "function_call"):
        value = message.get(field)
        if value:
            tokens += _json_tokens(value)
    for field in ("name", "tool_call_id"):
        value = message.get(field)
        if isinstance(value, str):
            tokens += text_tokens_at_most(value)
    return tokens


def _content_tokens(content: Any) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return text_tokens_at_most(content) + TEXT_OVERHEAD_TOKENS
    if not isinstance(content, list):
        return _json_tokens(content)
    tokens = 0
    for part in content:
        text = part.get("text") if isinstance(part, Mapping) else None
        if isinstance(text, str):
            tokens += text_tokens_at_most(text) + TEXT_OVERHEAD_TOKENS
        elif isinstance(part, Mapping) and part.get("type") in _IMAGE_PARTS:
            # Counted by size, never by the bytes of a base64 data URL.
            tokens += IMAGE_TOKENS
        else:  # audio, files, future part types: their JSON bounds their text
            tokens += _json_tokens(part)
    return tokens


def _input_tokens(value: Any) -> int:
    """A prompt or an embeddings input: text, texts, token ids, or lists of token ids."""
    if isinstance(value, str):
        return text_tokens_at_most(value) + TEXT_OVERHEAD_TOKENS
    if isinstance(value, list):
        if all(type(item) is int for item in value):
            return len(value) + TEXT_OVERHEAD_TOKENS  # already tokens
        return sum(_input_tokens(item) for item in value)
    return _json_tokens(value)


def _schema_tokens(value: Any) -> int:
    count = len(value) if isinstance(value, list) else 1
    return TOOLS_OVERHEAD_TOKENS + TOOL_OVERHEAD_TOKENS * count + _json_tokens(value)


def _json_tokens(value: Any) -> int:
    """Tokens of a JSON value's text: orjson writes UTF-8 unescaped, so its length
    bounds the bytes of every string inside."""
    try:
        return len(orjson.dumps(value)) + TEXT_OVERHEAD_TOKENS
    except TypeError:
        return text_tokens_at_most(str(value)) + TEXT_OVERHEAD_TOKENS
