"""The console's pages: one module per page, each with its own ``router`` and its
template(s) beside it (``pages/<page>.html``). See ../README.md for how to add one."""

from __future__ import annotations

from fastapi import APIRouter

from tollway.console.pages import (
    audit,
    catalog,
    home,
    keys_no_team,
    limits,
    models,
    models_edit,
    prices,
    provider_keys,
    providers,
    teams,
    teams_confirm,
    usage,
)

PAGE_MODULES = (
    home,
    providers,
    provider_keys,
    catalog,
    models,
    models_edit,
    teams,
    teams_confirm,
    keys_no_team,
    limits,
    prices,
    usage,
    audit,
)


def page_routers() -> list[APIRouter]:
    return [module.router for module in PAGE_MODULES]
