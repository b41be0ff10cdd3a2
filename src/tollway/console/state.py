"""What the console app holds for its lifetime (no module-level state)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.applications import Starlette
from starlette.templating import Jinja2Templates

from tollway.settings import ConsoleSettings


@dataclass(frozen=True, slots=True)
class ConsoleState:
    settings: ConsoleSettings
    templates: Jinja2Templates


def attach_console_state(app: Starlette, state: ConsoleState) -> None:
    app.state.console = state


def console_state(app: Starlette) -> ConsoleState:
    state: ConsoleState = app.state.console
    return state
