"""Resident memory of a run over time, and its peak within each step.

The kernel's peak RSS (`os.wait4`) says how high a run went, not when. To tell which stage
sets a day's peak (the 10M-payment day must fit 4 GiB), a thread samples the RSS of the child
and every descendant (dbt's subprocesses) from /proc while the run lasts; each step's peak is
then the largest sample taken between its start and end. Sampling can miss a spike shorter
than its interval, so the kernel's figure stays the run's peak of record.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")
INTERVAL_SECONDS = 0.25


@dataclass(frozen=True)
class Sample:
    at: float  # time.time(), comparable with Dagster's event timestamps
    largest_kib: int  # the largest single process of the tree (what wait4's peak measures)
    total_kib: int  # the whole tree


def _rss_kib(pid: int) -> int:
    try:
        for line in (PROC / str(pid) / "status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass  # the process ended between listing and reading
    return 0


def _parents() -> dict[int, int]:
    parents = {}
    for entry in PROC.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            # The command may hold spaces and parentheses: ppid follows the last ')'.
            stat = (entry / "stat").read_text()
            parents[int(entry.name)] = int(stat.rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
    return parents


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
            sizes = [_rss_kib(pid) for pid in tree(self.pid, _parents())]
            if sizes and sizes[0]:
                self.samples.append(Sample(time.time(), max(sizes), sum(sizes)))
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


def is_available() -> bool:
    return (PROC / str(os.getpid()) / "status").exists()
