"""The measured rows and the targets of issue 14 §1 computed from them (no I/O)."""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass
class Row:
    """One gateway, one case, at one connection count."""

    gateway: str
    case: str
    connections: int
    rps: float | None = None
    p50_ms: float | None = None
    p99_ms: float | None = None
    requests: int = 0
    non_2xx: int = 0
    socket_errors: int = 0
    cpu_us: float | None = None  # gateway CPU per request
    rss_mib: float | None = None  # after the row
    other_cores: float = 0.0  # machine CPU not used by the measured processes, in cores
    failure: str | None = None
    warmup_errors: int = 0  # failed requests while warming up (then retried)

    @property
    def noisy(self) -> bool:
        return self.other_cores > 0.10

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors

    @property
    def flags(self) -> str:
        flags = []
        if self.failure:
            flags.append("FAILED")
        if self.errors:
            flags.append("ERRORS")
        if not self.failure and not self.requests:
            flags.append("NO-ANSWERS")
        elif self.few:
            # Up to one request per connection is in flight at each end of the window:
            # below ten rounds, req/s and CPU per request are off by more than 10 %.
            flags.append("FEW")
        if self.warmup_errors:
            flags.append(f"WARMUP-ERRORS({self.warmup_errors})")
        if self.noisy:
            flags.append(f"NOISE({self.other_cores:.2f} core)")
        return " ".join(flags)

    @property
    def few(self) -> bool:
        return not self.failure and 0 < self.requests < 10 * self.connections

    @property
    def usable(self) -> bool:
        return self.failure is None and self.rps is not None and self.requests > 0


@dataclass(frozen=True)
class Probe:
    """One connection, sequential requests: time to first body byte and to the end."""

    gateway: str
    case: str
    count: int = 0
    ttfb_p50_ms: float | None = None
    total_p50_ms: float | None = None
    total_p99_ms: float | None = None
    failure: str | None = None


@dataclass(frozen=True)
class Check:
    label: str
    value: float | None
    unit: str  # "x" for ratios, else the unit of an absolute value
    target: str
    passed: bool | None  # None: not measurable in this run
    caveat: str = ""

    def line(self) -> str:
        shown = "n/a" if self.value is None else f"{self.value:.2f}{self.unit}"
        verdict = {True: "PASS", False: "FAIL", None: "n/a"}[self.passed]
        tail = f"  [{self.caveat}]" if self.caveat else ""
        return f"{self.label:<58}{shown:>12}  target {self.target:<11} {verdict}{tail}"


Rows = Mapping[tuple[str, str], Row]
_AT_LEAST: Callable[[float, float], bool] = operator.ge
_AT_MOST: Callable[[float, float], bool] = operator.le


def _caveat(*rows: Row | None) -> str:
    notes = {f"{r.gateway} {r.case}: {r.flags}" for r in rows if r is not None and r.flags}
    return "; ".join(sorted(notes))


def _verdict(passed: bool, *rows: Row) -> bool | None:
    """No verdict from a row of too few rounds: its numbers are mostly edge effects."""
    return None if any(r.few for r in rows) else passed


def _get(rows: Rows, gateway: str, case: str) -> Row | None:
    row = rows.get((gateway, case))
    return row if row is not None and row.usable else None


def throughput(
    rows: Rows, label: str, a: tuple[str, str], b: tuple[str, str], floor: float
) -> Check:
    top, bottom = _get(rows, *a), _get(rows, *b)
    if top is None or bottom is None or not bottom.rps or top.rps is None:
        return Check(label, None, "x", f">= {floor:g}x", None, "row missing or failed")
    value = top.rps / bottom.rps
    passed = _verdict(value >= floor, top, bottom)
    return Check(label, value, "x", f">= {floor:g}x", passed, _caveat(top, bottom))


def cpu_limit(rows: Rows, label: str, at: tuple[str, str], limit_us: float) -> Check:
    row = _get(rows, *at)
    if row is None or row.cpu_us is None:
        return Check(label, None, " us", f"<= {limit_us:g} us", None, "row missing or failed")
    passed = _verdict(row.cpu_us <= limit_us, row)
    return Check(label, row.cpu_us, " us", f"<= {limit_us:g} us", passed, _caveat(row))


def cpu_ratio(rows: Rows, label: str, a: tuple[str, str], b: tuple[str, str], cap: float) -> Check:
    top, bottom = _get(rows, *a), _get(rows, *b)
    if top is None or bottom is None or not bottom.cpu_us or top.cpu_us is None:
        return Check(label, None, "x", f"<= {cap:g}x", None, "row missing or failed")
    value = top.cpu_us / bottom.cpu_us
    passed = _verdict(value <= cap, top, bottom)
    return Check(label, value, "x", f"<= {cap:g}x", passed, _caveat(top, bottom))


def tail(rows: Rows, label: str, at: tuple[str, str], cap: float) -> Check:
    row = _get(rows, *at)
    if row is None or not row.p50_ms or row.p99_ms is None:
        return Check(label, None, "x", f"<= {cap:g}x", None, "row missing or failed")
    value = row.p99_ms / row.p50_ms
    return Check(label, value, "x", f"<= {cap:g}x", _verdict(value <= cap, row), _caveat(row))


def ttfb_added(probes: Mapping[tuple[str, str], Probe], gateway: str, case: str) -> Check:
    label = f"TTFB added over direct, 1 connection, {case} ({gateway})"
    mine, base = probes.get((gateway, case)), probes.get(("direct", case))
    if mine is None or base is None or mine.ttfb_p50_ms is None or base.ttfb_p50_ms is None:
        return Check(label, None, " ms", "<= 1 ms", None, "probe missing or failed")
    value = mine.ttfb_p50_ms - base.ttfb_p50_ms
    return Check(label, value, " ms", "<= 1 ms", value <= 1.0)


def memory(label: str, mib: float | None, limit: float, caveat: str = "") -> Check:
    if mib is None:
        return Check(label, None, " MiB", f"<= {limit:g} MiB", None, "not measured")
    return Check(label, mib, " MiB", f"<= {limit:g} MiB", mib <= limit, caveat)


def checks(
    rows: Rows,
    probes: Mapping[tuple[str, str], Probe],
    idle_rss: float | None,
    final_rss: float | None,
    served: int,
) -> list[Check]:
    """Every target of §1 this harness can measure, tollway's single worker unless named."""
    tw = "tollway"
    found = [
        throughput(
            rows,
            "streamed chat: tollway / Portkey req/s",
            (tw, "chat-sse"),
            ("portkey", "chat-sse"),
            1.2,
        ),
        throughput(
            rows,
            "streamed chat: tollway / LiteLLM proxy req/s",
            (tw, "chat-sse"),
            ("litellm", "chat-sse"),
            20,
        ),
        cpu_limit(rows, "streamed chat: tollway CPU per stream", (tw, "chat-sse"), 1000),
        cpu_ratio(
            rows,
            "streamed chat: tollway CPU / aiohttp passthrough CPU",
            (tw, "chat-sse"),
            ("aiohttp", "chat-sse"),
            5,
        ),
        throughput(
            rows,
            "JSON chat: tollway / Portkey req/s",
            (tw, "chat-json"),
            ("portkey", "chat-json"),
            1.2,
        ),
        cpu_limit(rows, "JSON chat: tollway CPU per request", (tw, "chat-json"), 800),
        throughput(
            rows,
            "Anthropic upstream JSON: tollway / LiteLLM proxy",
            (tw, "anth-chat-json"),
            ("litellm", "anth-chat-json"),
            4,
        ),
        throughput(
            rows,
            "Anthropic upstream stream: tollway / LiteLLM proxy",
            (tw, "anth-chat-sse"),
            ("litellm", "anth-chat-sse"),
            4,
        ),
        tail(rows, "tail: tollway p99 / p50, JSON chat, 64 connections", (tw, "chat-json"), 3),
        tail(rows, "tail: tollway p99 / p50, streamed chat, 64 connections", (tw, "chat-sse"), 3),
        ttfb_added(probes, tw, "chat-sse"),
        throughput(
            rows,
            "two workers / one, JSON chat",
            ("tollway-2w", "chat-json"),
            (tw, "chat-json"),
            1.8,
        ),
        throughput(
            rows,
            "two workers / one, streamed chat",
            ("tollway-2w", "chat-sse"),
            (tw, "chat-sse"),
            1.8,
        ),
    ]
    for case, base in (
        ("resp-json", "chat-json"),
        ("resp-sse", "chat-sse"),
        ("msg-json", "chat-json"),
        ("msg-sse", "chat-sse"),
        ("anth-msg-json", "anth-chat-json"),
        ("anth-msg-sse", "anth-chat-sse"),
    ):
        found.append(
            throughput(
                rows, f"dialects: tollway {case} / {base} req/s", (tw, case), (tw, base), 0.8
            )
        )
    found.append(memory("memory: tollway RSS idle", idle_rss, 300))
    enough = "" if served >= 10_000 else f"only {served} requests served"
    found.append(
        memory(f"memory: tollway RSS after {served} mixed requests", final_rss, 350, enough)
    )
    return found
