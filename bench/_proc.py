"""Readings of a process from /proc: CPU time, resident memory, threads, core affinity.

Linux only (the benchmark pins processes to cores, which is Linux-specific anyway). CPU
time counts every thread of the process (the event loop and the store's worker
threads), user and system, as the kernel accounts it.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """utime + stime of the whole process (all threads), in seconds."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces
    return (int(fields[11]) + int(fields[12])) / _TICKS  # fields 14 and 15 of proc(5)


def status(pid: int) -> dict[str, str]:
    rows = Path(f"/proc/{pid}/status").read_text().splitlines()
    return {k: v.strip() for k, _, v in (row.partition(":") for row in rows)}


def rss_mib(pid: int) -> float:
    """Resident set size (VmRSS) in MiB."""
    return round(int(status(pid)["VmRSS"].split()[0]) / 1024, 1)


def threads(pid: int) -> int:
    return int(status(pid)["Threads"])


def thread_cores(pid: int) -> list[int]:
    """The cores any thread of ``pid`` may run on (their affinity masks, joined)."""
    cores: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            cores |= os.sched_getaffinity(int(task.name))
        except ProcessLookupError:  # the thread ended while we looked
            continue
    return sorted(cores)
