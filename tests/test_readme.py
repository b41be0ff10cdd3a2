"""The README's configuration reference names every setting, and its /v1 error table
is the catalogue's (``python -m tests.test_readme`` writes it there)."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel

from tollway.domain.v1_errors import documented_table
from tollway.settings import Settings

README = Path(__file__).resolve().parents[1] / "README.md"
ERRORS_TABLE = re.compile(
    r"(<!-- v1-errors: begin [^\n]*-->\n)(.*?)(<!-- v1-errors: end -->)", re.S
)


def _variables(model: type[BaseModel], prefix: str) -> list[str]:
    names: list[str] = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            names += _variables(annotation, f"{prefix}{name.upper()}__")
        else:
            names.append(f"{prefix}{name.upper()}")
    return names


def test_every_setting_is_documented() -> None:
    text = README.read_text()
    missing = [name for name in _variables(Settings, "TOLLWAY_") if f"`{name}`" not in text]
    assert missing == []


def test_readme_starts_with_the_two_commands() -> None:
    text = README.read_text()
    assert text.index("make run") < text.index("## Configuration")
    assert text.index("make test") < text.index("## Configuration")


def with_errors_table(readme: str) -> str:
    """``readme`` with the catalogue's /v1 error table between its markers."""
    assert len(ERRORS_TABLE.findall(readme)) == 1, "the README lost its v1-errors markers"
    return ERRORS_TABLE.sub(lambda match: match[1] + documented_table() + match[3], readme)


def _rows(table: str) -> set[tuple[str, ...]]:
    return {
        tuple(cell.strip() for cell in line.strip("|").split("|"))[:3]
        for line in table.splitlines()[2:]
    }


def test_the_v1_error_table_is_the_catalogues() -> None:
    text = README.read_text()
    match = ERRORS_TABLE.search(text)
    assert match is not None, "the README lost its v1-errors markers"
    # (status, type, code) first: the rows that differ, then the exact text.
    assert _rows(match[2]) == _rows(documented_table())
    assert text == with_errors_table(text), "run `python -m tests.test_readme`"


if __name__ == "__main__":
    README.write_text(with_errors_table(README.read_text()))
