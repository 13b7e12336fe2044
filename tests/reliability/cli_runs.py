"""Run the real command line against a world in a temp dir, kill it, and read what it published."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from billing_pipeline.sample import generate_world
from tests.support import published_snapshot

DAY1, DAY2 = "2026-10-05", "2026-10-06"
CLI = [sys.executable, "-m", "billing_pipeline.cli"]
READER = Path(__file__).resolve().parent.parent / "ops" / "reader_loop.py"
# Columns that record when or in which run something happened, not what.


def make_world(inbox: Path, payments_per_day: int = 20, seed: int = 3) -> None:
    generate_world(
        inbox=inbox,
        truth_dir=inbox.parent / "truth",
        start=date.fromisoformat(DAY1),
        end=date.fromisoformat(DAY2),
        payments_per_day=payments_per_day,
        seed=seed,
    )


def env(root: Path, **extra: str) -> dict[str, str]:
    values = {
        **os.environ,
        "BILLING_INBOX": str(root / "inbox"),
        "BILLING_WAREHOUSE": str(root / "warehouse"),
        **extra,
    }
    values.pop("DAGSTER_HOME", None)
    return values


def start(root: Path, *args: str, **extra: str) -> subprocess.Popen:
    """The CLI in its own session, so that a kill takes its dbt subprocess down with it."""
    return subprocess.Popen(
        [*CLI, *args],
        env=env(root, **extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )


def run(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [*CLI, *args], env=env(root, **extra), capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def kill_at(process: subprocess.Popen, marker: str, delay: float) -> bool:
    """SIGKILL the process group `delay` seconds after `marker` appears in its output.
    False when the run ended before the marker (nothing was killed)."""
    assert process.stdout is not None
    for line in process.stdout:
        if marker in line:
            time.sleep(delay)
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            return True
    process.wait()
    return False


def published(analytics: Path) -> dict[str, list[tuple]]:
    """Every published relation's rows without run-time columns, in a stable order."""
    return published_snapshot(analytics)


def start_reader(analytics: Path, stop: Path, result: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(READER), str(analytics), str(stop), str(result)])


def run_raw(root: Path, *args: str, **extra: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=env(root, **extra), capture_output=True, text=True, check=False
    )
