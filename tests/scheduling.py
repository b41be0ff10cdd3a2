"""How `make test` spreads test modules over pytest-xdist workers (``--dist loadfile``).

A module is one unit of work: its module-scoped servers start once, on one worker.
Units are handed out in collection order, which ``order`` sets: the modules that start
tollway or LiteLLM processes first, slowest first (their times below, with
``--durations`` on the loaded 2-core machine), then the rest by number of tests, most
first, so the many short modules fill in at the end around whatever is still running.

Two things pytest-xdist 3.8 does on its own would undo that (``SlowFirstScheduling``):

- ``--loadscope-reorder`` (on by default) re-sorts the units by number of tests, which
  put the slow modules, with their one to four tests each, at the very end of the run:
  one of them then ran alone on one worker while the others had finished.
- A worker is sent its next unit as soon as two of its tests are left (it has to know
  its next test before it runs one). A slow module has two tests or fewer from the
  start, so the next unit in line, another slow module, waited behind it on that worker
  while another worker might have been idle. Now a worker busy with a slow module is
  sent the first short module in line instead.
"""

from __future__ import annotations

from collections import Counter

import pytest
from xdist.remote import Producer
from xdist.scheduler import LoadFileScheduling
from xdist.workermanage import WorkerController

# Prefixes of node ids, slowest first (seconds: one run, -n 0, machine loaded).
SLOW_MODULES_FIRST = (
    "tests/system/test_shutdown.py",  # 145 s: three starts, a stream cut after its grace
    "tests/test_serve.py",  # 125 s: five `tollway serve` starts
    "tests/system/test_crash_recovery.py",  # 115 s: a start and three restarts
    "tests/inference/test_remote_engine.py",  # 130 s: two LiteLLM proxy boots
    "tests/inference/test_responses_remote.py",  # 60 s: a LiteLLM proxy boot
    "tests/inference/test_messages_remote.py",  # 40 s: a LiteLLM proxy boot
    "tests/system/test_replicas.py",  # two replicas, 200-request bursts
    "tests/system/test_budget_shapes.py",  # two replicas
    "tests/observability/test_prometheus_live.py",  # two replicas and Prometheus
    "tests/observability/test_workers.py",  # tollway serve --workers 2
    "tests/deploy/test_image.py",  # a fresh virtual environment, then tollway serve
    "tests/inference/test_counters_survive.py",  # 40 s: restarts, a private Redis
    "tests/engine/test_remote.py",  # one LiteLLM proxy
    "tests/conformance/",  # one tollway and five fakes per module, hundreds of calls
)


# Modules that run in another module's unit of work, on its worker, right after it
# (``order`` keeps them next to each other): they share its package-scoped processes,
# started once (tests/system/conftest.py's two replicas).
TOGETHER = {"tests/system/test_budget_shapes.py": "tests/system/test_replicas.py"}


def module_of(nodeid: str) -> str:
    return nodeid.split("::", 1)[0]


def unit_of(nodeid: str) -> str:
    """The unit of work: the module, or its group in ``TOGETHER``."""
    module = module_of(nodeid)
    return TOGETHER.get(module, module)


def slow_rank(nodeid: str) -> int | None:
    """The module's place in ``SLOW_MODULES_FIRST``; None for the others."""
    for rank, prefix in enumerate(SLOW_MODULES_FIRST):
        if nodeid.startswith(prefix):
            return rank
    return None


def order(items: list[pytest.Item]) -> None:
    """Slow modules first, slowest first; then by number of tests, most first. A
    module's tests stay together and in file order (the sort is stable)."""
    sizes = Counter(module_of(item.nodeid) for item in items)

    def key(item: pytest.Item) -> tuple[int, int, str]:
        module = module_of(item.nodeid)
        rank = slow_rank(item.nodeid)
        if rank is not None:
            return (0, rank, module)
        return (1, -sizes[module], module)

    items.sort(key=key)


class SlowFirstScheduling(LoadFileScheduling):
    """``--dist loadfile`` in collection order, without queueing a module behind a
    slow one on the same worker while a short one can go there instead."""

    def __init__(self, config: pytest.Config, log: Producer | None = None) -> None:
        super().__init__(config, log)
        config.option.loadscopereorder = False  # keep ``order``'s order

    def _split_scope(self, nodeid: str) -> str:
        return unit_of(nodeid)

    def _busy_with_slow_module(self, node: WorkerController) -> bool:
        return any(
            slow_rank(scope) is not None and not all(done.values())
            for scope, done in self.assigned_work.get(node, {}).items()
        )

    def _assign_work_unit(self, node: WorkerController) -> None:
        if self._busy_with_slow_module(node):
            short = next((scope for scope in self.workqueue if slow_rank(scope) is None), None)
            if short is not None:
                self.workqueue.move_to_end(short, last=False)
        super()._assign_work_unit(node)
