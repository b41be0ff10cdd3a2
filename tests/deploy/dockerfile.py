"""The top-level Dockerfile read as data: stages, instructions and the `uv sync` flags,
so the tests check what it says instead of repeating it."""

from __future__ import annotations

import json
import re
import shlex
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True, slots=True)
class Instruction:
    keyword: str
    arguments: str

    def exec_form(self) -> list[str]:
        """The JSON array of an exec-form ENTRYPOINT, CMD or HEALTHCHECK CMD."""
        text = (
            self.arguments.split("CMD", 1)[1] if self.keyword == "HEALTHCHECK" else self.arguments
        )
        value = json.loads(text.strip())
        assert isinstance(value, list), f"{self.keyword} is not in exec form: {self.arguments}"
        return [str(item) for item in value]


@dataclass
class Stage:
    base: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]

    def one(self, keyword: str) -> Instruction:
        found = self.all(keyword)
        assert len(found) == 1, f"expected one {keyword}, found {len(found)}"
        return found[0]


@dataclass
class Dockerfile:
    global_args: dict[str, str]
    stages: list[Stage]

    def arg_default(self, name: str) -> str:
        for instruction in [
            *(Instruction("ARG", f"{k}={v}") for k, v in self.global_args.items()),
            *(i for stage in self.stages for i in stage.all("ARG")),
        ]:
            key, _, value = instruction.arguments.partition("=")
            if key == name:
                return value
        raise AssertionError(f"no ARG {name}")

    def uv_sync_commands(self) -> list[list[str]]:
        """Every `uv sync …` of the build, as argument lists starting at `sync`."""
        commands = []
        for run in self.stages[0].all("RUN"):
            for part in run.arguments.split("&&"):
                words = shlex.split(part)
                if len(words) > 1 and words[0].endswith("/uv") and words[1] == "sync":
                    commands.append(words[1:])
        return commands


def logical_lines(text: str) -> list[str]:
    """Lines with continuations joined; comments and parser directives dropped."""
    lines: list[str] = []
    pending = ""
    for raw in text.splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return lines


def parse(path: Path = DOCKERFILE) -> Dockerfile:
    global_args: dict[str, str] = {}
    stages: list[Stage] = []
    for line in logical_lines(path.read_text()):
        keyword, _, arguments = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            match = re.fullmatch(r"(\S+)(?:\s+AS\s+(\S+))?", arguments.strip(), re.IGNORECASE)
            assert match, line
            stages.append(Stage(base=match[1], name=match[2]))
        elif not stages:
            assert keyword == "ARG", f"only ARG may precede FROM: {line}"
            key, _, value = arguments.partition("=")
            global_args[key] = value
        else:
            stages[-1].instructions.append(Instruction(keyword, re.sub(r"\s+", " ", arguments)))
    return Dockerfile(global_args, stages)
