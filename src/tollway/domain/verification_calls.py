"""One verification request, sent the way agents' requests are: through the engine,
journaled and billed in the usage ledger, under the system team ``verification``.

The call is made for one chosen deployment (the model row and key under test), not
routed by public name: verifying a deployment must not quietly test another one or
fall back to OpenRouter. Admission runs against a table with no limits, so nothing is
reserved against any team, key or provider quota; the ``verification`` team's own
spending is bounded by the verification budget instead (no quota applies to it).
"""

from __future__ import annotations

import asyncio
import time
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tollway.domain.accounting import Accounting, RequestAccount
from tollway.domain.attempt import deployment_attempt
from tollway.domain.metered_stream import MeteredStream
from tollway.domain.send import answer, open_stream, send_scrubbed
from tollway.domain.verification_tests import Probe, stream_answer
from tollway.engine.base import Engine, EngineCall, EngineError, EngineResult, TokenUsage
from tollway.errors import TollwayError
from tollway.metering.pricing import Prices, compute_cost, prices_for
from tollway.observability.scrubbing import KnownSecrets
from tollway.quotas.model import Denied
from tollway.routing.table import CallerKey, Deployment, RoutingTable
from tollway.store.tables import UsageStatus

# The usage ledger's tollway key id for verification calls: no real key is behind it.
VERIFICATION_KEY_ID = uuid.UUID("00000000-0000-4000-8000-7e7171ca7104")
ERROR_CHARS = 300


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """What one probe got: the answer (assembled when streamed) or a short error."""

    answer: dict[str, Any] | None
    error: str | None
    latency_ms: int
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: Decimal | None = None
    chunks: int = 0


class VerificationCaller:
    def __init__(self, engine: Engine, accounting: Accounting, known_secrets: KnownSecrets) -> None:
        self._engine = engine
        self._accounting = accounting
        self._secrets = known_secrets

    async def call(self, deployment: Deployment, team_id: uuid.UUID, probe: Probe) -> CallOutcome:
        caller = CallerKey(VERIFICATION_KEY_ID, "verification", team_id, False, None, None)
        account = self._accounting.open(
            caller, f"verify-{uuid.uuid4().hex}", probe.endpoint, deployment.public_name, probe.body
        )
        started = time.perf_counter()
        prices = prices_for(deployment)
        unlimited = RoutingTable(version=0)  # no limits: nothing reserved against anyone
        try:
            admitted = await account.admit(
                unlimited, deployment_attempt(deployment, prices), prices
            )
            if isinstance(admitted, Denied):  # cannot happen without limits
                return CallOutcome(None, "refused by a limit", 0)
            target = deployment.targets.get(probe.endpoint)
            if target is None:
                await account.fail(None, UsageStatus.ERROR)
                return CallOutcome(None, f"the deployment serves no {probe.endpoint} calls", 0)
            call = EngineCall(probe.endpoint, probe.body, target, probe.stream)
            if probe.stream:
                # From here the metered stream records the request, however it ends.
                return await self._streamed(call, account, started, prices)
            result: EngineResult = await send_scrubbed(answer, self._engine, call, self._scrub)
            await account.durable()
            await account.settle_response(result)
        except (EngineError, TollwayError) as exc:  # the probe failed: the test did
            status = getattr(exc, "status", None) or getattr(exc, "status_code", None)
            await account.fail(status if isinstance(status, int) else None)
            return CallOutcome(None, self._short(exc), _ms(started))
        except BaseException:  # cancelled (shutting down) or a bug: still recorded once
            if not probe.stream:
                await asyncio.shield(account.fail(None, UsageStatus.INTERRUPTED))
            raise
        usage = result.usage
        cost = compute_cost(usage, prices, result.cost_usd).usd if usage else None
        return CallOutcome(
            result.body,
            None,
            _ms(started),
            usage.prompt_tokens if usage else 0,
            usage.completion_tokens if usage else 0,
            cost,
        )

    async def _streamed(
        self, call: EngineCall, account: RequestAccount, started: float, prices: Prices
    ) -> CallOutcome:
        stream = await send_scrubbed(open_stream, self._engine, call, self._scrub)
        account.first_token()
        metered = MeteredStream(stream, account, self._scrub)
        chunks: list[dict[str, Any]] = []
        try:
            await account.durable()
            async for chunk in metered:
                chunks.append(chunk)
        except (EngineError, TollwayError) as exc:  # cut mid-stream: charged as delivered
            await metered.close(disconnected=False)
            return CallOutcome(None, self._short(exc), _ms(started))
        finally:
            await metered.close(disconnected=False)
        prompt, completion = _stream_usage(chunks)
        usage = TokenUsage(prompt, completion, prompt + completion)
        return CallOutcome(
            stream_answer(chunks),
            None,
            _ms(started),
            prompt,
            completion,
            compute_cost(usage, prices).usd,
            chunks=sum(1 for c in chunks if c.get("choices")),
        )

    def _scrub(self, text: str) -> str:
        return self._secrets.scrub(text)

    def _short(self, exc: Exception) -> str:
        message = getattr(exc, "message", None) or type(exc).__name__
        return self._scrub(str(message))[:ERROR_CHARS]


def _stream_usage(chunks: list[dict[str, Any]]) -> tuple[int, int]:
    for chunk in reversed(chunks):
        usage = chunk.get("usage")
        if isinstance(usage, dict):
            return int(usage.get("prompt_tokens") or 0), int(usage.get("completion_tokens") or 0)
    return 0, 0


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
