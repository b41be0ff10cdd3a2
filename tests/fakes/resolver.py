"""A DNS stand-in for ``tollway.net.guard.Resolver``: names answer what the test says.

No test may use real DNS. A name maps to one answer (a list of addresses) or to a
sequence of answers, one per lookup, the last repeated, which is how a rebinding
name behaves: harmless when checked, internal when dialled.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Mapping, Sequence


class StaticResolver:
    def __init__(self, answers: Mapping[str, Sequence[str] | Sequence[Sequence[str]]]) -> None:
        self._answers = {name.lower(): _as_sequence(answer) for name, answer in answers.items()}
        self._lock = threading.Lock()
        self.lookups: list[str] = []

    def resolve(self, host: str, port: int) -> list[str]:
        name = host.lower()
        with self._lock:
            answers = self._answers.get(name)
            index = sum(1 for looked in self.lookups if looked == name)
            self.lookups.append(name)
        if answers is None:
            raise socket.gaierror(socket.EAI_NONAME, f"{host} is not in the test's DNS")
        return list(answers[min(index, len(answers) - 1)])

    async def aresolve(self, host: str, port: int) -> list[str]:
        return self.resolve(host, port)


def _as_sequence(answer: Sequence[str] | Sequence[Sequence[str]]) -> list[list[str]]:
    if answer and isinstance(answer[0], str):
        return [[str(address) for address in answer]]
    return [[str(address) for address in each] for each in answer]
