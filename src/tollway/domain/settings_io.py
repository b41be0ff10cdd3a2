"""Applying a settings document to the store (import) and producing one (export).

Import is an upsert by id and idempotent: importing the same file twice changes
nothing the second time, including secret versions. Provider keys go to the secret
store; export never writes them, only their fingerprints.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from tollway.domain.common import Actor, audit, target
from tollway.domain.model_catalog import cached_catalog, suggestions
from tollway.domain.models import ModelService
from tollway.domain.provider_keys import ProviderKeyService, StagedKey, secret_value
from tollway.domain.providers import ProviderService, insert_provider
from tollway.domain.settings_file import (
    CatalogEntry,
    ProviderCredentials,
    ProviderEntry,
    SettingsDocument,
    dump_document,
)
from tollway.errors import ValidationError
from tollway.providers.families import family
from tollway.store.db import Database, Session
from tollway.store.enums import ModelStatus
from tollway.store.repositories import models, provider_keys, providers, rows
from tollway.store.tables import Model, Provider, utcnow


@dataclass
class ImportSummary:
    providers_created: int = 0
    providers_updated: int = 0
    keys_stored: int = 0
    models_created: int = 0
    models_updated: int = 0
    warnings: list[str] = field(default_factory=list)
    # Imported models whose id a cached catalog of their provider does not list.
    models_not_in_catalog: list[dict[str, Any]] = field(default_factory=list)

    def describe(self) -> str:
        return (
            f"{self.providers_created} provider(s) created, {self.providers_updated} updated, "
            f"{self.keys_stored} key(s) stored, {self.models_created} model(s) created, "
            f"{self.models_updated} updated"
        )


_CATALOG_FIELDS = frozenset(CatalogEntry.model_fields) - {"id"}


class SettingsIOService:
    def __init__(
        self,
        database: Database,
        providers: ProviderService,
        models: ModelService,
        keys: ProviderKeyService,
    ) -> None:
        self._db = database
        self._providers = providers
        self._models = models
        self._keys = keys

    def apply(self, document: SettingsDocument, actor: Actor) -> ImportSummary:
        summary = ImportSummary()
        base_urls = {p.id: self._providers.safe_url(_base_url(p)) for p in document.providers}
        with self._db.session() as session:
            self._check_references(session, document)
            self._check_types(session, document)
        staged = self._stage_keys(document)
        with self._keys.discard_on_error(list(staged.values())), self._db.session() as session:
            for entry in document.providers:
                self._upsert_provider(session, entry, base_urls[entry.id], actor, summary)
                self._record_key(session, entry, staged.get(entry.id), actor, summary)
            for model in document.catalog:
                self._upsert_model(session, model, actor, summary)
            audit(session, actor, "settings.import", "settings", _audit_summary(summary))
        self._report_unlisted(document, summary)
        return summary

    def _report_unlisted(self, document: SettingsDocument, summary: ImportSummary) -> None:
        """Models whose id their provider's cached catalog does not list: reported, not
        refused (an import must not depend on providers answering); no provider is
        called, and providers never listed, or listed statically, are not judged."""
        with self._db.session() as session:
            for provider_id in dict.fromkeys(m.provider_id for m in document.catalog):
                listed = cached_catalog(session, provider_id)
                if listed is None:
                    continue
                for entry in (m for m in document.catalog if m.provider_id == provider_id):
                    if entry.model_id not in listed:
                        close = suggestions(entry.model_id, sorted(listed))
                        summary.models_not_in_catalog.append(
                            {
                                "id": str(entry.id),
                                "name": entry.name,
                                "model_id": entry.model_id,
                                "provider_id": str(provider_id),
                                "suggestions": close,
                            }
                        )
                        hint = f" (did you mean {', '.join(close)}?)" if close else ""
                        summary.warnings.append(
                            f"model '{entry.name}': '{entry.model_id}' is not in its "
                            f"provider's cached catalog{hint}"
                        )

    def export(self) -> dict[str, Any]:
        with self._db.session() as session:
            listed = providers.in_creation_order(session)
            entries = [self._export_provider(session, p) for p in listed]
            catalog = [
                CatalogEntry.model_validate(m.model_dump(include=set(_CATALOG_FIELDS) | {"id"}))
                for m in models.by_name(session)
            ]
        document = SettingsDocument(version=1, providers=tuple(entries), catalog=tuple(catalog))
        return dump_document(document)

    # -- import -------------------------------------------------------------------

    @staticmethod
    def _check_references(session: Session, document: SettingsDocument) -> None:
        in_file = {p.id for p in document.providers}
        wanted = {m.provider_id for m in document.catalog}
        missing = sorted(
            {str(m.provider_id) for m in document.catalog if m.provider_id not in in_file}
            - {str(pid) for pid in providers.existing_ids(session, wanted)}
        )
        if missing:
            raise ValidationError(
                f"catalog references unknown provider(s): {', '.join(missing)}",
                details=[
                    {"loc": ["catalog"], "msg": f"unknown providerId {pid}"} for pid in missing
                ],
            )

    @staticmethod
    def _check_types(session: Session, document: SettingsDocument) -> None:
        for entry in document.providers:
            provider = rows.find(session, Provider, entry.id)
            if provider is not None and provider.type != entry.type:
                raise ValidationError(
                    f"provider '{entry.id}' exists with type '{provider.type}', the file says "
                    f"'{entry.type}'; a provider's type cannot change"
                )

    def _stage_keys(self, document: SettingsDocument) -> dict[uuid.UUID, StagedKey]:
        """Write changed keys to the secret store before the transaction (see StagedKey)."""
        staged: dict[uuid.UUID, StagedKey] = {}
        for entry in document.providers:
            api_key = entry.credentials.api_key if entry.credentials else None
            if api_key is None:
                continue
            item = self._keys.stage_shared(entry.id, secret_value(api_key))
            if item is not None:
                staged[entry.id] = item
        return staged

    def _upsert_provider(
        self,
        session: Session,
        entry: ProviderEntry,
        base_url: str | None,
        actor: Actor,
        summary: ImportSummary,
    ) -> None:
        fields: dict[str, Any] = {
            "name": entry.name,
            "description": entry.description,
            "website": entry.website,
            "default_model": entry.default_model,
            "base_url": base_url,
        }
        provider = rows.find(session, Provider, entry.id)
        if provider is None:
            provider = insert_provider(
                session, Provider(id=entry.id, type=entry.type, **fields), actor
            )
            summary.providers_created += 1
        elif any(getattr(provider, k) != v for k, v in fields.items()):
            self._update_provider(session, provider, fields, actor)
            summary.providers_updated += 1

    @staticmethod
    def _update_provider(
        session: Session, provider: Provider, fields: dict[str, Any], actor: Actor
    ) -> None:
        changed = sorted(k for k, v in fields.items() if getattr(provider, k) != v)
        for name, value in fields.items():
            setattr(provider, name, value)
        provider.updated_at = utcnow()
        session.add(provider)
        audit(
            session, actor, "provider.update", target("provider", provider.id), {"fields": changed}
        )

    def _record_key(
        self,
        session: Session,
        entry: ProviderEntry,
        staged: StagedKey | None,
        actor: Actor,
        summary: ImportSummary,
    ) -> None:
        if staged is not None:
            self._keys.record(session, entry.id, staged, actor)
            summary.keys_stored += 1
        elif family(entry.type).needs_key and not provider_keys.of_provider(session, entry.id):
            summary.warnings.append(f"provider '{entry.name}' ({entry.id}) has no API key")

    def _upsert_model(
        self, session: Session, entry: CatalogEntry, actor: Actor, summary: ImportSummary
    ) -> None:
        fields = entry.model_dump(include=set(_CATALOG_FIELDS), by_alias=False)
        model = rows.find(session, Model, entry.id)
        if model is None:
            session.add(Model(id=entry.id, **fields))
            audit(session, actor, "model.create", target("model", entry.id), {"name": entry.name})
            summary.models_created += 1
            return
        if model.status is ModelStatus.RETIRED:
            summary.warnings.append(
                f"model '{entry.name}' ({entry.id}) is retired (deleted while it had "
                "verification results): left as it is; give the entry another id to "
                "publish it again"
            )
            return
        if model.status is ModelStatus.INVALID and model.provider_id != entry.provider_id:
            fields |= {"status": ModelStatus.UNVERIFIED, "status_reason": None}
        if any(getattr(model, k) != v for k, v in fields.items()):
            ModelService.apply(model, fields)
            session.add(model)
            audit(session, actor, "model.update", target("model", model.id), {"name": model.name})
            summary.models_updated += 1

    # -- export -------------------------------------------------------------------

    @staticmethod
    def _export_provider(session: Session, provider: Provider) -> ProviderEntry:
        keys = provider_keys.of_provider(session, provider.id)
        shared = [k for k in keys if k.team_id is None]
        credentials = None
        if provider.base_url or shared:
            credentials = ProviderCredentials(
                base_url=provider.base_url,
                api_key_fingerprint=f"\u2026{shared[0].fingerprint}" if shared else None,
            )
        return ProviderEntry(
            id=provider.id,
            name=provider.name,
            type=provider.type,
            description=provider.description,
            website=provider.website,
            default_model=provider.default_model,
            credentials=credentials,
        )


def _audit_summary(summary: ImportSummary) -> dict[str, Any]:
    skipped = ("warnings", "models_not_in_catalog")
    return {k: v for k, v in summary.__dict__.items() if k not in skipped}


def _base_url(entry: ProviderEntry) -> str | None:
    return entry.credentials.base_url if entry.credentials else None
