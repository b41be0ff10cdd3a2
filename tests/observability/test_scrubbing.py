"""The known-secret scrubber: every encoded form of every known secret, nothing else."""

from __future__ import annotations

import base64
import io
import json
import logging
import re
from collections.abc import Iterator
from urllib.parse import quote, quote_plus

import pytest

from tests.fakes.providers.wire import credential_encodings
from tollway.observability.logging import configure_logging, scrubbed_log_records
from tollway.observability.scrubbing import REDACTED, KnownSecrets, Scrubber

SECRET = 'sk-live-abc/def+ghi=jkl"mno~0123456789'
OTHER = "AIzaSyD-another-provider-key_0123456789"
INNOCENT = (
    "GET /v1/models/sk-foo HTTP/1.1; model sk-ant-claude-x-20250101 and sk-proj-demo; "
    "journal at /tmp/tw-data/journal; key prefix tw-abc1234 and twadmin-; request "
    "req_0123456789abcdefABCDEF0123456789"
)


def every_form(secret: str) -> list[str]:
    """Independent of the scrubber: how an upstream may quote ``secret``."""
    forms = [secret, quote(secret, safe=""), quote(secret), quote_plus(secret)]
    lower_hex = re.sub(r"%[0-9A-F]{2}", lambda m: m.group().lower(), quote(secret, safe=""))
    forms += [lower_hex, json.dumps(secret), json.dumps({"k": secret})]
    forms.append(json.dumps(secret).replace("/", "\\/"))
    for prefix in ("", "a", "ab", "abc", "user:", "Bearer "):
        data = (prefix + secret).encode()
        for encoder in (base64.b64encode, base64.urlsafe_b64encode):
            encoded = encoder(data).decode()
            forms += [encoded, encoded.rstrip("=")]
    return [*forms, *credential_encodings(secret)]


def assert_clean(text: str, secret: str) -> None:
    for form in every_form(secret):
        # The edges of a base64 form depend on the bytes around the secret.
        middle = form[4:-4] if len(form) > 16 else form
        assert middle not in text, (form, text)


@pytest.fixture
def known() -> KnownSecrets:
    secrets = KnownSecrets()
    secrets.set("settings", [SECRET, None, "short"])
    secrets.set("routing", [OTHER])
    return secrets


def test_every_form_of_every_known_secret_is_scrubbed(known: KnownSecrets) -> None:
    for secret in (SECRET, OTHER):
        for form in every_form(secret):
            text = f"the upstream said: {form}!"
            cleaned = known.scrub(text)
            assert REDACTED in cleaned, form
            assert_clean(cleaned, secret)


def test_only_secrets_are_touched(known: KnownSecrets) -> None:
    assert known.scrub(INNOCENT) == INNOCENT
    assert known.scrub("short and sweet") == "short and sweet"  # too short to be a key


def test_full_length_tollway_tokens_are_scrubbed_without_being_known() -> None:
    key = "tw-" + "A1b2C3d4E5" * 4 + "xyz"
    admin = "twadmin-" + "Z9y8X7w6V5" * 4 + "_-q"
    cleaned = KnownSecrets().scrub(f"Authorization: Bearer {key}; admin {admin}; /tmp/tw-data")
    assert key not in cleaned
    assert admin not in cleaned
    assert cleaned.endswith("/tmp/tw-data")


def test_masked_keys_are_scrubbed() -> None:
    assert KnownSecrets().scrub("Incorrect API key provided: sk-pro*********6789.") == (
        f"Incorrect API key provided: {REDACTED}."
    )


def test_a_source_replaces_its_secrets(known: KnownSecrets) -> None:
    known.set("routing", ["a-rotated-provider-key-000111"])
    assert OTHER in known.scrub(OTHER)
    assert known.scrub("a-rotated-provider-key-000111") == REDACTED
    assert known.scrub(SECRET) == REDACTED


def test_extra_secrets_known_only_to_the_caller(known: KnownSecrets) -> None:
    fresh = "sk-being-tested-0123456789/+="
    text = " ".join(every_form(fresh))
    assert_clean(known.scrub(text, fresh, None), fresh)


def test_many_secrets_compile_into_one_scan() -> None:
    secrets = [f"sk-key-{index:04d}-{'x' * 30}" for index in range(500)]
    scrubber = Scrubber(secrets)
    assert scrubber.scrub(f"a {secrets[321]} b {secrets[7]}") == f"a {REDACTED} b {REDACTED}"


@pytest.fixture
def stderr_logging() -> Iterator[io.StringIO]:
    """``configure_logging`` as ``tollway serve`` runs it, its stream captured."""
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    configure_logging("INFO")
    stream = io.StringIO()
    root.handlers[0].setStream(stream)  # type: ignore[attr-defined]
    try:
        yield stream
    finally:
        root.handlers[:], _ = saved
        root.setLevel(saved[1])


def test_log_lines_lose_secrets_and_keep_everything_else(
    known: KnownSecrets, stderr_logging: io.StringIO, caplog: pytest.LogCaptureFixture
) -> None:
    log = logging.getLogger("tollway.test.scrubbing")
    encoded = base64.b64encode(f"user:{SECRET}".encode()).decode()
    with scrubbed_log_records(known):
        log.warning("upstream said %s and %s", quote(SECRET, safe=""), encoded)
        log.warning("%s", INNOCENT)
        try:
            raise RuntimeError(f"boom {json.dumps(OTHER)}")
        except RuntimeError:
            log.exception("failed")
    log.warning("after the block: %s", INNOCENT)
    printed = stderr_logging.getvalue()
    captured = "\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records)
    for text in (printed, captured):
        assert_clean(text, SECRET)
        assert_clean(text, OTHER)
        assert text.count(INNOCENT) == 2, text
        assert "RuntimeError: boom" in text
