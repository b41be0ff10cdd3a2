"""Single-flight: concurrent callers of the same work in one process share one run.

The first caller for a key runs the work; callers arriving while it runs wait for its
result (or its exception) instead of starting their own. State is per instance.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)
V = TypeVar("V")


class SingleFlight(Generic[K, V]):
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._calls: dict[K, Future[V]] = {}
        self._followers: dict[K, int] = {}  # callers waiting on a run they did not start

    def run(self, key: K, work: Callable[[], V]) -> V:
        with self._lock:
            call = self._calls.get(key)
            leader = call is None
            if call is None:
                call = self._calls[key] = Future()
            else:
                self._followers[key] = self._followers.get(key, 0) + 1
        if not leader:
            return call.result()
        try:
            value = work()
        except BaseException as exc:
            call.set_exception(exc)
            raise
        else:
            call.set_result(value)
            return value
        finally:
            with self._lock:
                del self._calls[key]
                self._followers.pop(key, None)

    def running(self, key: K) -> bool:
        with self._lock:
            return key in self._calls

    def followers(self, key: K) -> int:
        """How many callers wait on the run of ``key`` now (status pages, tests)."""
        with self._lock:
            return self._followers.get(key, 0)
