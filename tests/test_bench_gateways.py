"""The pure parts of bench/gateways.py: wrk's report, the canned answers, the ratios."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
from harness import canned, wrk
from harness.ratios import Probe, Row, checks

REPORT = """Running 10s test @ http://127.0.0.1:4000/v1/chat/completions
  1 threads and 64 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     3.40ms    1.02ms  40.11ms   90.00%
    Req/Sec    18.80k     1.20k   20.00k    70.00%
  Latency Distribution
     50%  812.00us
     75%    3.60ms
     90%    4.10ms
     99%    1.20s
  187654 requests in 10.01s, 45.60MB read
  Socket errors: connect 0, read 2, write 0, timeout 3
  Non-2xx or 3xx responses: 7
Requests/sec:  18746.65
Transfer/sec:      4.56MB
"""


def test_wrk_report_is_read_with_units_and_errors() -> None:
    report = wrk.parse(REPORT)
    assert report.requests == 187654
    assert report.seconds == pytest.approx(10.01)
    assert report.rps == pytest.approx(18746.65)
    assert report.p50_ms == pytest.approx(0.812)
    assert report.p99_ms == pytest.approx(1200.0)
    assert (report.non_2xx, report.socket_errors) == (7, 5)


def test_a_report_without_error_lines_has_none() -> None:
    clean = "\n".join(
        line for line in REPORT.splitlines() if "errors" not in line and "Non-2xx" not in line
    )
    assert (wrk.parse(clean).non_2xx, wrk.parse(clean).socket_errors) == (0, 0)


def test_anything_else_is_refused() -> None:
    with pytest.raises(ValueError, match="not a wrk"):
        wrk.parse("wrk: connection refused")


def _sse_data(stream: str) -> list[str]:
    return [line.removeprefix("data: ") for line in stream.splitlines() if line.startswith("data:")]


def test_the_chat_stream_has_twenty_chunks_then_usage_and_done() -> None:
    data = _sse_data(canned.chat_sse())
    assert data[-1] == "[DONE]"
    chunks = [json.loads(d) for d in data[:-1]]
    assert len(chunks) == 21
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert chunks[19]["choices"][0]["finish_reason"] == "stop"
    assert chunks[20]["usage"]["completion_tokens"] == 18


def test_the_typed_streams_are_json_events_with_usage() -> None:
    responses = [json.loads(d) for d in _sse_data(canned.responses_sse())]
    assert responses[-1]["type"] == "response.completed"
    assert responses[-1]["response"]["usage"]["output_tokens"] == 18
    messages = [json.loads(d) for d in _sse_data(canned.messages_sse())]
    assert [messages[0]["type"], messages[-1]["type"]] == ["message_start", "message_stop"]
    assert messages[-2]["usage"]["output_tokens"] == 18


def test_every_nginx_string_fits_its_parse_buffer(tmp_path: Path) -> None:
    conf = canned.upstream_conf(tmp_path, 8080)
    for quoted in conf.split("'")[1::2]:
        assert len(quoted) < 4096


def _row(gateway: str, case: str, rps: float, cpu_us: float, **extra: float) -> Row:
    return Row(
        gateway, case, 64, rps=rps, p50_ms=2, p99_ms=5, requests=1000, cpu_us=cpu_us, **extra
    )


def test_checks_compare_rows_and_say_what_is_missing() -> None:
    rows = {
        ("tollway", "chat-sse"): _row("tollway", "chat-sse", 1200, 900),
        ("portkey", "chat-sse"): _row("portkey", "chat-sse", 800, 1200),
        ("aiohttp", "chat-sse"): _row("aiohttp", "chat-sse", 5000, 150),
        ("tollway", "chat-json"): _row("tollway", "chat-json", 1000, 700, other_cores=0.5),
    }
    probes = {
        ("tollway", "chat-sse"): Probe("tollway", "chat-sse", 10, 1.5, 1.6, 2.0),
        ("direct", "chat-sse"): Probe("direct", "chat-sse", 10, 0.1, 0.1, 0.2),
    }
    found = {c.label: c for c in checks(rows, probes, 250.0, 400.0, 12_000)}
    versus_portkey = found["streamed chat: tollway / Portkey req/s"]
    assert (versus_portkey.value, versus_portkey.passed) == (pytest.approx(1.5), True)
    assert found["streamed chat: tollway CPU / aiohttp passthrough CPU"].passed is False
    assert found["JSON chat: tollway CPU per request"].caveat.startswith("tollway chat-json: NOISE")
    assert found["streamed chat: tollway / LiteLLM proxy req/s"].passed is None
    ttfb = found["TTFB added over direct, 1 connection, chat-sse (tollway)"]
    assert (ttfb.value, ttfb.passed) == (pytest.approx(1.4), False)
    assert found["memory: tollway RSS idle"].passed is True
    assert found["memory: tollway RSS after 12000 mixed requests"].passed is False


def test_a_failed_or_empty_row_is_never_a_ratio() -> None:
    rows = {
        ("tollway", "chat-json"): _row("tollway", "chat-json", 1000, 700),
        ("portkey", "chat-json"): Row("portkey", "chat-json", 64, failure="did not start"),
        ("tollway-2w", "chat-json"): Row("tollway-2w", "chat-json", 64, rps=0.0, requests=0),
    }
    found = {c.label: c for c in checks(rows, {}, None, None, 0)}
    assert found["JSON chat: tollway / Portkey req/s"].value is None
    assert found["two workers / one, JSON chat"].value is None
    assert rows[("tollway-2w", "chat-json")].flags == "NO-ANSWERS"


def test_the_wrk_script_is_valid_lua(tmp_path: Path) -> None:
    lua = wrk.script(tmp_path / "post.lua", {"Content-Type": "application/json"}, b'{"a": [1]}')
    assert "wrk.headers[ [==[Content-Type]==] ] = [==[application/json]==]" in lua.read_text()


def test_a_row_of_few_rounds_is_flagged() -> None:
    row = Row("litellm", "chat-sse", 64, rps=3.0, p50_ms=900, p99_ms=9000, requests=30)
    assert row.flags == "FEW"
    assert Row("tollway", "chat-sse", 64, rps=100, requests=1000).flags == ""


def test_no_verdict_from_a_row_of_few_rounds() -> None:
    rows = {
        ("tollway", "anth-chat-json"): _row("tollway", "anth-chat-json", 100, 900),
        ("litellm", "anth-chat-json"): Row(
            "litellm", "anth-chat-json", 64, rps=0.5, p50_ms=9000, p99_ms=9900, requests=5
        ),
    }
    found = {c.label: c for c in checks(rows, {}, None, None, 0)}
    versus = found["Anthropic upstream JSON: tollway / LiteLLM proxy"]
    assert (versus.value, versus.passed) == (pytest.approx(200), None)
    assert "litellm anth-chat-json: FEW" in versus.caveat
