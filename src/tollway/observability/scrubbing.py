"""Known secrets, scrubbed from any text in every form an upstream may echo them in.

A provider or a library that quotes a credential rarely quotes it verbatim: it may
URL-encode it (a query string), base64 it (a Basic-auth header), or JSON-escape it
(an error body quoting the request). ``secret_forms`` lists those forms; a
``Scrubber`` compiles the forms of a set of secrets into one trie-shaped regular
expression, once, so scrubbing a message is a single scan whatever the number of
secrets (~10 µs for 300 characters and 50 secrets; a recompile ~50 ms, in the
routing build's thread). ``KnownSecrets`` is the process's registry: each source (settings, the
routing table, the secret store's own login) replaces its set when it changes, and
the next scrub uses the recompiled scrubber.

Only known secrets are touched: paths, model names and request ids that merely look
like keys survive. Two shapes are scrubbed without being known: a tollway key or
admin token of the full length (callers present keys tollway only holds as
hashes), and a masked credential (``sk-pr*****6789``), which is a key by definition.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, quote_plus

REDACTED = "[redacted]"
# Shorter values are not credentials, and their forms would match ordinary words.
MIN_SECRET_CHARS = 8
# Base64 of a secret embedded at byte offset k (mod 3): the first {0, 2, 3}
# characters still depend on the bytes before it.
_B64_SKIP = (0, 2, 3)
_URLSAFE = str.maketrans("+/", "-_")
_PERCENT = re.compile(r"%[0-9A-F]{2}")
# "tw-"/"twadmin-" + secrets.token_urlsafe(32): exactly 43 URL-safe characters. The
# literal comes first (the lookbehind after it) so the engine can search for it.
_TOLLWAY_TOKEN = re.compile(r"tw(?<![\w-]tw)(?:admin)?-[A-Za-z0-9_-]{43}(?![\w-])")
# Anchored at the start of a token, so a long run of word characters is scanned once.
_MASKED = re.compile(r"(?<![\w.*-])(?:[\w.-]*\w\*{3,}(?:[\w.-]*\w)?|\*{3,}[\w.-]*\w)")


def secret_forms(secret: str) -> frozenset[str]:
    """Every substring that gives ``secret`` away: raw, URL-encoded, JSON-escaped,
    base64 (standard and URL-safe, any alignment, padded or not)."""
    if len(secret) < MIN_SECRET_CHARS:
        return frozenset()
    forms = {secret, *_url_forms(secret), *_json_forms(secret)}
    data = secret.encode()
    for offset, skip in enumerate(_B64_SKIP):
        core = _base64_core(data, offset, skip)
        forms.update((core, core.translate(_URLSAFE)))
    return frozenset(form for form in forms if len(form) >= MIN_SECRET_CHARS)


def _url_forms(secret: str) -> set[str]:
    encoded = {quote(secret, safe=""), quote(secret), quote_plus(secret), quote_plus(secret, "/")}
    lowered = {_PERCENT.sub(lambda m: m.group().lower(), form) for form in encoded}
    return encoded | lowered


def _json_forms(secret: str) -> set[str]:
    ascii_form = json.dumps(secret)[1:-1]
    unicode_form = json.dumps(secret, ensure_ascii=False)[1:-1]
    return {ascii_form, unicode_form, ascii_form.replace("/", "\\/")}


def _base64_core(data: bytes, offset: int, skip: int) -> str:
    """The characters of ``b64(prefix + data + suffix)`` that only ``data`` decides,
    for any prefix whose length is ``offset`` mod 3 and any suffix."""
    encoded = base64.b64encode(b"\0" * offset + data).decode()
    end = (8 * (offset + len(data))) // 6
    return encoded[skip:end]


class Scrubber:
    """The forms of a fixed set of secrets, compiled once. Immutable, thread-safe."""

    __slots__ = ("_known", "secrets")

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self.secrets = frozenset(s for s in secrets if len(s) >= MIN_SECRET_CHARS)
        forms = set().union(*(secret_forms(s) for s in self.secrets))
        self._known = re.compile(_trie_pattern(forms)) if forms else None

    def scrub(self, text: str) -> str:
        if self._known is not None:
            text = self._known.sub(REDACTED, text)
        # The shapes are searched for only when their literal part is there at all.
        if "tw" in text:
            text = _TOLLWAY_TOKEN.sub(REDACTED, text)
        if "***" in text:
            text = _MASKED.sub(REDACTED, text)
        return text


class KnownSecrets:
    """The registry every exit scrubs with: settings' credentials, the routing
    table's provider keys and OpenRouter key, the secret store's own login.

    ``set`` replaces one source's secrets and recompiles only when they changed;
    ``scrub`` reads the current compiled ``Scrubber`` without a lock.
    """

    def __init__(self) -> None:
        self._sources: dict[str, frozenset[str]] = {}
        self._lock = threading.Lock()
        self._scrubber = Scrubber()

    def set(self, source: str, secrets: Iterable[str | None]) -> None:
        values = frozenset(s for s in secrets if s)
        with self._lock:
            if self._sources.get(source) == values:
                return
            self._sources[source] = values
            self._scrubber = Scrubber(set().union(*self._sources.values()))

    def scrub(self, text: str, *extra: str | None) -> str:
        """``text`` without any known secret, nor any of ``extra`` (secrets only the
        caller knows, e.g. a key being tested before it is stored)."""
        scrubber = self._scrubber
        text = scrubber.scrub(text)
        for secret in extra:
            if secret and secret not in scrubber.secrets:
                text = scrub_secret(text, secret)
        return text

    def scrub_details(self, details: Mapping[str, Any]) -> dict[str, Any]:
        """An audit entry's details with every string value scrubbed."""
        return {key: self._scrub_value(value) for key, value in details.items()}

    def _scrub_value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return self.scrub_details(value)
        if isinstance(value, list | tuple):
            return [self._scrub_value(item) for item in value]
        return value


def scrub_secret(text: str, secret: str) -> str:
    """``text`` without any form of one ``secret`` (no regex: for one-off secrets)."""
    for form in sorted(secret_forms(secret), key=len, reverse=True):
        text = text.replace(form, REDACTED)
    return text


def _trie_pattern(words: Iterable[str]) -> str:
    """One regex matching any of ``words``, longest first, shaped as a trie so the
    engine dispatches on one character at each step instead of trying every word."""
    root: dict[str, Any] = {}
    for word in words:
        node = root
        for char in word:
            node = node.setdefault(char, {})
        node[""] = {}
    return _node_pattern(root)


def _node_pattern(node: dict[str, Any]) -> str:
    parts: list[str] = []
    # Follow single-child chains as plain literals: nesting only at branch points.
    while len(node) == 1 and "" not in node:
        ((char, node),) = node.items()
        parts.append(re.escape(char))
    branches = [re.escape(char) + _node_pattern(child) for char, child in node.items() if char]
    if branches:
        body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
        parts.append(f"(?:{body})?" if "" in node else body)
    return "".join(parts)
