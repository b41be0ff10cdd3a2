"""The queries the services run, each against a migrated store.

The admin API tests exercise these through the services on both backends; here each
one is pinned on its own, where a wrong filter or order shows directly.
"""

from __future__ import annotations

import uuid

import pytest

from tollway.errors import NotFoundError
from tollway.store.db import Database, Session
from tollway.store.enums import ProviderType
from tollway.store.repositories import audit, pricing, providers, rows, teams
from tollway.store.repositories.names import names_by_id
from tollway.store.tables import AuditEvent, PricingInfo, Provider, Team, TollwayKey


def provider(session: Session, name: str = "p") -> Provider:
    row = Provider(name=name, type=ProviderType.OPENAI)
    session.add(row)
    session.flush()
    return row


def test_require_names_the_missing_row(sqlite_database: Database) -> None:
    missing = uuid.uuid4()
    with sqlite_database.session() as session:
        assert rows.find(session, Team, missing) is None
        with pytest.raises(NotFoundError, match=f"team '{missing}' not found"):
            rows.require(session, Team, missing, "team")


def test_team_ownership_counts_each_kind_of_key(sqlite_database: Database) -> None:
    with sqlite_database.session() as session:
        team = Team(name="t")
        session.add(team)
        session.flush()
        session.add(TollwayKey(name="k", team_id=team.id, prefix="tw-", key_hash="h"))
        session.flush()
        assert teams.owned_keys(session, team.id) == {"provider key": 0, "tollway key": 1}
        assert teams.name_taken(session, "t")
        assert not teams.name_taken(session, "u")


def test_a_second_provider_default_price_is_seen_though_null_model_ids_differ(
    sqlite_database: Database,
) -> None:
    with sqlite_database.session() as session:
        owner = provider(session)
        assert not pricing.scope_taken(session, owner.id, None)
        session.add(PricingInfo(provider_id=owner.id))
        session.flush()
        assert pricing.scope_taken(session, owner.id, None)
        assert [p.provider_id for p in pricing.of_providers(session, {owner.id})] == [owner.id]


def test_existing_provider_ids_ignore_unknown_ones(sqlite_database: Database) -> None:
    with sqlite_database.session() as session:
        known = provider(session)
        assert providers.existing_ids(session, {known.id, uuid.uuid4()}) == [known.id]
        assert providers.existing_ids(session, set()) == []


def test_names_by_id_reads_past_one_chunk_of_ids(sqlite_database: Database) -> None:
    with sqlite_database.session() as session:
        known = provider(session, "named")
        wanted = {known.id, *(uuid.uuid4() for _ in range(600))}
        assert names_by_id(session, "provider", wanted) == {known.id: "named"}


def test_audit_page_filters_and_counts(sqlite_database: Database) -> None:
    with sqlite_database.session() as session:
        audit.append_change(session, "a", "team.create", "team:1", {})
        audit.append_event(session, "a", "engine.fallback", "request:1", {})
        audit.append_event(session, "a", "engine.fallback", "request:2", {})
    with sqlite_database.session() as session:
        events, total = audit.page(session, limit=1, offset=0, action="engine.fallback")
    assert total == 2
    assert [type(e) for e in events] == [AuditEvent]
    assert events[0].action == "engine.fallback"
