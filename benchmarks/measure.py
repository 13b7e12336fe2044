"""Run a command as a child process and take its wall time, CPU time and peak RSS.

CPU time and peak RSS come from the kernel (`os.wait4`): they cover the child and every
descendant it waited for (the dbt subprocesses of a pipeline run). Peak RSS is the largest
single process's, not a sum. A `Sampler` (benchmarks/memory.py) also records the tree's RSS
over time, so that each step's peak can be told apart.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

from benchmarks.memory import Sample, Sampler

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Usage:
    wall: float
    cpu: float  # user + system seconds
    peak_rss_mib: float
    returncode: int

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class Measured:
    usage: Usage
    samples: list[Sample]  # the tree's RSS over time


def run_measured(
    argv: list[str], env: dict[str, str] | None = None, log: Path | None = None
) -> Measured:
    """Run argv (stdout+stderr to `log`) and return its Usage and RSS samples."""
    out = open(log, "w") if log else subprocess.DEVNULL  # noqa: SIM115 - closed below
    try:
        begin = time.perf_counter()
        child = subprocess.Popen(
            argv, cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=out
        )
        with Sampler(child.pid) as sampler:
            _, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - begin
    finally:
        if log:
            out.close()
    child.returncode = os.waitstatus_to_exitcode(status)
    used = Usage(
        wall=wall,
        cpu=usage.ru_utime + usage.ru_stime,
        peak_rss_mib=usage.ru_maxrss / 1024,  # Linux reports KiB
        returncode=child.returncode,
    )
    return Measured(used, sampler.samples)


def python_module(module: str, *args: str) -> list[str]:
    return [sys.executable, "-m", module, *args]
