"""The verification queries on both backends: runs newest first, each model's last
run, the models due first, today's spend, and the schedule's lease."""

from __future__ import annotations

import uuid
from datetime import timedelta
from decimal import Decimal

from tollway.store.db import Database
from tollway.store.repositories import verifications
from tollway.store.tables import Model, VerificationResult, utcnow


def result(
    model: Model, run: uuid.UUID, test: str, passed: bool, minutes: int
) -> VerificationResult:
    return VerificationResult(
        model_id=model.id,
        provider_id=model.provider_id,
        run_id=run,
        test_type=test,
        passed=passed,
        cost_usd=Decimal("0.25"),
        created_at=utcnow() - timedelta(minutes=minutes),
    )


def test_runs_last_runs_due_models_and_spend(database: Database) -> None:
    provider = uuid.uuid4()
    a, b, never = (Model(provider_id=provider, model_id=n, name=n) for n in ("a", "b", "n"))
    old, new, other = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    with database.session() as session:
        session.add_all([a, b, never])
        session.flush()
        verifications.add_run(
            session,
            [
                result(a, old, "reachable", True, 30),
                result(a, old, "completion", False, 30),
                result(a, new, "reachable", True, 5),
                result(a, new, "completion", True, 5),
                result(b, other, "reachable", True, 60),
            ],
        )
    with database.session() as session:
        runs = verifications.recent_runs(session, a.id, 3)
        assert [[r.passed for r in run] for run in runs] == [[True, True], [False, True]]
        last = verifications.latest_runs(session, [a.id, b.id, never.id])
        assert {m: {r.run_id for r in rows} for m, rows in last.items()} == {
            a.id: {new},
            b.id: {other},
        }
        assert verifications.due_models(session) == [never.id, b.id, a.id]
        assert verifications.spent_since(session, utcnow() - timedelta(minutes=10)) == Decimal(
            "0.50"
        )
        items, total = verifications.page(session, a.id, limit=3, offset=0)
        assert (total, len(items), items[0].run_id) == (4, 3, new)


def test_the_lease_is_one_replicas_until_it_expires(database: Database) -> None:
    now = utcnow()
    later = now + timedelta(minutes=5)
    with database.session() as session:
        assert verifications.claim_lease(session, "a", now, later)
    with database.session() as session:
        assert not verifications.claim_lease(session, "b", now, later)
        assert verifications.claim_lease(session, "a", now, later)  # the holder renews
    with database.session() as session:
        assert verifications.claim_lease(session, "b", later, later + timedelta(minutes=5))
