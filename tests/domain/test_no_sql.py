"""The rule in tollway/domain/__init__.py that import-linter cannot see: a service
stages rows in its session but asks the repositories for everything it reads."""

from __future__ import annotations

import ast
from pathlib import Path

import tollway.domain

STAGING = frozenset({"add", "delete", "flush"})
DOMAIN = Path(tollway.domain.__file__).parent


def session_calls_beyond_staging(source: str) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(source)):
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "session"
            and node.attr not in STAGING
        ):
            found.append(f"line {node.lineno}: session.{node.attr}")
    return found


def test_domain_sessions_only_stage_rows() -> None:
    offences = {
        path.name: calls
        for path in sorted(DOMAIN.glob("*.py"))
        if (calls := session_calls_beyond_staging(path.read_text()))
    }
    assert offences == {}, "queries belong in tollway.store.repositories"


def test_a_query_in_a_service_is_caught() -> None:
    source = "def f(session):\n    session.add(1)\n    return session.get(Team, 1)\n"
    assert session_calls_beyond_staging(source) == ["line 3: session.get"]
