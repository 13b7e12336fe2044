"""Resident memory and CPU time of a run over time, and each step's peak and CPU seconds.

The kernel's peak RSS and CPU time (`os.wait4`) say how much a whole run used, not which step
used it. To tell which stage sets a day's peak (the 10M-payment day must fit 4 GiB) and which
keeps the cores busy, a thread samples the RSS and the cumulative CPU time of the child and
every descendant (dbt's subprocesses) from /proc while the run lasts. A step's peak is the
largest sample taken between its start and end; its CPU seconds are the tree's CPU time at its
end less that at its start, each read off the samples around that instant. Sampling can miss a
spike shorter than its interval, so the kernel's figures stay the run's of record.
"""

from __future__ import annotations

import os
import threading
import time
from bisect import bisect_right
from dataclasses import dataclass
from operator import attrgetter
from pathlib import Path

PROC = Path("/proc")
INTERVAL_SECONDS = 0.25
# /proc/<pid>/stat gives CPU times in clock ticks.
CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


@dataclass(frozen=True)
class Sample:
    at: float  # time.time(), comparable with Dagster's event timestamps
    largest_kib: int  # the largest single process of the tree (what wait4's peak measures)
    total_kib: int  # the whole tree
    # CPU seconds the tree has used so far: its live processes' user + system time, each with
    # that of the children it has reaped, as wait4 would count them at the end.
    cpu_seconds: float = 0.0


def _rss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass  # the process ended between listing and reading
    return 0


def _processes() -> tuple[dict[int, int], dict[int, int]]:
    """Every process's parent pid, and its CPU clock ticks so far (utime + stime + cutime +
    cstime), from one read of each /proc/<pid>/stat."""
    parents, ticks = {}, {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command may hold spaces and parentheses: the fields follow the last ')',
            # from the state (field 3): ppid is field 4, utime..cstime fields 14-17.
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            pid = int(entry.name)
            parents[pid] = int(fields[1])
            ticks[pid] = sum(int(f) for f in fields[11:15])
        except (OSError, ValueError, IndexError):
            continue
    return parents, ticks


def tree(root: int, parents: dict[int, int]) -> list[int]:
    """`root` and every descendant of it in a pid -> parent pid map."""
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


class Sampler:
    """Samples a process tree's RSS on a thread until stopped."""

    def __init__(self, pid: int, interval: float = INTERVAL_SECONDS) -> None:
        self.pid, self.interval = pid, interval
        self.samples: list[Sample] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            parents, ticks = _processes()
            pids = tree(self.pid, parents)
            sizes = [_rss_kib(pid) for pid in pids]
            if sizes and sizes[0]:
                cpu = sum(ticks.get(pid, 0) for pid in pids) / CLOCK_TICKS
                self.samples.append(Sample(time.time(), max(sizes), sum(sizes), cpu))
            self._stop.wait(self.interval)


def peaks_by_window(
    samples: list[Sample], windows: dict[str, tuple[float, float]]
) -> dict[str, dict[str, float]]:
    """Per window (step -> (start, end)): the largest samples taken within it, in MiB.

    A window shorter than the interval may hold no sample; it gets the nearest one before
    its end, so every step has a figure (a lower bound of its peak)."""
    peaks = {}
    for name, (start, end) in windows.items():
        inside = [s for s in samples if start <= s.at <= end]
        if not inside:
            before = [s for s in samples if s.at <= end]
            inside = before[-1:] or samples[:1]
        if inside:
            peaks[name] = {
                "largest_mib": round(max(s.largest_kib for s in inside) / 1024, 1),
                "total_mib": round(max(s.total_kib for s in inside) / 1024, 1),
            }
    return peaks


def cpu_at(samples: list[Sample], instant: float) -> float:
    """The tree's CPU seconds at `instant`, interpolated between the samples around it (the
    first or last sample outside their span)."""
    # Samples are appended in time order: the first one after `instant` is found by bisection.
    after = bisect_right(samples, instant, key=attrgetter("at"))
    if after == 0:
        return samples[0].cpu_seconds
    if after == len(samples):
        return samples[-1].cpu_seconds
    low, high = samples[after - 1], samples[after]
    share = (instant - low.at) / (high.at - low.at)
    return low.cpu_seconds + share * (high.cpu_seconds - low.cpu_seconds)


def cpu_by_window(
    samples: list[Sample], windows: dict[str, tuple[float, float]]
) -> dict[str, float]:
    """Per window (step -> (start, end)): CPU seconds the tree used within it. Good to about
    an interval's worth of the machine's cores at each end (0.5 s on two cores)."""
    if not samples:
        return {}
    return {
        name: round(max(cpu_at(samples, end) - cpu_at(samples, start), 0.0), 2)
        for name, (start, end) in windows.items()
    }


def is_available() -> bool:
    return (PROC / str(os.getpid()) / "status").exists()
