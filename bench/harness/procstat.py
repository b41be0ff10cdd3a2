"""CPU and memory of process trees, and the whole machine's CPU, read from /proc."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterable
from pathlib import Path

PROC = Path("/proc")


def _ticks_per_second() -> int:
    return os.sysconf("SC_CLK_TCK")


def _stat_fields(pid: int) -> list[str]:
    """The fields after the command name (which may hold spaces and parentheses)."""
    text = (PROC / str(pid) / "stat").read_text()
    return text[text.rindex(")") + 2 :].split()


def parent_of(stat_after_comm: list[str]) -> int:
    return int(stat_after_comm[1])


def tree(root: int) -> list[int]:
    """``root`` and every live descendant."""
    children: dict[int, list[int]] = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError, ValueError, IndexError):
            children.setdefault(parent_of(_stat_fields(int(entry.name))), []).append(
                int(entry.name)
            )
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def cpu_seconds(pids: Iterable[int]) -> float:
    """utime + stime of these processes (fields 14 and 15 of /proc/PID/stat)."""
    ticks = 0
    for pid in pids:
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = _stat_fields(pid)
            ticks += int(fields[11]) + int(fields[12])
    return ticks / _ticks_per_second()


def tree_cpu_seconds(roots: Iterable[int]) -> float:
    return cpu_seconds(pid for root in roots for pid in tree(root))


def rss_mib(roots: Iterable[int]) -> float:
    """Resident memory summed over the trees (shared pages count once per process)."""
    total_kib = 0
    for pid in (pid for root in roots for pid in tree(root)):
        with contextlib.suppress(OSError, ValueError):
            for line in (PROC / str(pid) / "status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def machine_busy_seconds() -> float:
    """Non-idle CPU time of all cores since boot (/proc/stat's first line)."""
    fields = (PROC / "stat").read_text().splitlines()[0].split()[1:]
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(f) for f in fields[:8])
    return (user + nice + system + irq + softirq + steal) / _ticks_per_second()


def pin(roots: Iterable[int], cpus: set[int]) -> None:
    """Every thread of every process in the trees onto ``cpus`` (threads that exist
    already keep their own mask, so each task is set, not just the process)."""
    for pid in (pid for root in roots for pid in tree(root)):
        with contextlib.suppress(OSError):
            for task in (PROC / str(pid) / "task").iterdir():
                with contextlib.suppress(OSError):
                    os.sched_setaffinity(int(task.name), cpus)
