"""The harness tells which step of a run set its memory peak and how much CPU each step used
(benchmarks/memory.py)."""

from __future__ import annotations

import sys

import pytest

from benchmarks.measure import run_measured
from benchmarks.memory import Sample, cpu_by_window, is_available, peaks_by_window, tree

MIB = 1024


def test_a_process_tree_is_the_root_and_all_its_descendants_only():
    parents = {10: 1, 11: 10, 12: 11, 13: 10, 20: 1, 21: 20}
    assert sorted(tree(10, parents)) == [10, 11, 12, 13]
    assert tree(12, parents) == [12]


def test_each_window_gets_the_largest_sample_inside_it():
    samples = [
        Sample(1.0, 100 * MIB, 120 * MIB),
        Sample(2.0, 900 * MIB, 950 * MIB),
        Sample(3.0, 300 * MIB, 1200 * MIB),
        Sample(4.0, 200 * MIB, 200 * MIB),
    ]
    peaks = peaks_by_window(samples, {"ingest": (0.5, 2.5), "dbt": (2.5, 4.5)})
    assert peaks["ingest"] == {"largest_mib": 900.0, "total_mib": 950.0}
    # The largest process and the largest tree need not be the same sample.
    assert peaks["dbt"] == {"largest_mib": 300.0, "total_mib": 1200.0}


def test_a_window_between_samples_takes_the_last_one_before_its_end():
    samples = [Sample(1.0, 100 * MIB, 100 * MIB), Sample(2.0, 400 * MIB, 400 * MIB)]
    peaks = peaks_by_window(samples, {"quick": (1.2, 1.3)})
    assert peaks["quick"]["largest_mib"] == 100.0


@pytest.mark.skipif(not is_available(), reason="needs /proc")
def test_sampled_peak_of_a_child_agrees_with_the_kernels(tmp_path):
    # 300 MiB held for a second: long enough for several samples.
    script = "import time; block = bytearray(300 * 1024 * 1024); time.sleep(1.5)"
    measured = run_measured([sys.executable, "-c", script], log=tmp_path / "log")
    assert measured.usage.returncode == 0
    sampled = max(s.largest_kib for s in measured.samples) / 1024
    assert sampled >= 300
    assert sampled <= measured.usage.peak_rss_mib + 1


def test_a_steps_cpu_is_the_trees_cpu_at_its_end_less_at_its_start_between_samples():
    samples = [Sample(0.0, 1, 1, 0.0), Sample(1.0, 1, 1, 2.0), Sample(2.0, 1, 1, 2.5)]
    # Both cores busy for a second, then a quarter of one core for the next.
    cpu = cpu_by_window(samples, {"both": (0.25, 1.0), "idle": (1.0, 1.5), "late": (1.5, 9.0)})
    assert cpu == {"both": 1.5, "idle": 0.25, "late": 0.25}


@pytest.mark.skipif(not is_available(), reason="needs /proc")
def test_cpu_burnt_by_a_grandchild_is_counted_while_it_runs_not_when_it_is_reaped(tmp_path):
    # The child idles for a second, runs a grandchild that spins for 1.5 s of CPU, then idles
    # again. Counting only the child would see the spin when the grandchild is reaped (at its
    # end); the tree's CPU shows it while it spins.
    spin = "import time; end = time.process_time() + 1.5\nwhile time.process_time() < end: pass"
    script = (
        "import subprocess, sys, time\n"
        "print(time.time(), flush=True); time.sleep(1.0)\n"
        f"subprocess.run([sys.executable, '-c', {spin!r}], check=True)\n"
        "print(time.time(), flush=True); time.sleep(1.0)\n"
    )
    log = tmp_path / "log"
    measured = run_measured([sys.executable, "-c", script], log=log)
    assert measured.usage.returncode == 0
    started, spun = (float(line) for line in log.read_text().split())
    windows = {
        "idle before": (started + 0.1, started + 0.9),
        # well inside the spin: after the grandchild started, before it ended
        "spinning": (started + 1.4, spun - 0.3),
        "idle after": (spun + 0.1, spun + 0.9),
    }
    cpu = cpu_by_window(measured.samples, windows)
    spinning = windows["spinning"][1] - windows["spinning"][0]
    assert cpu["spinning"] >= 0.4 * spinning  # at least 0.4 of a core (CI shares the cores)
    assert cpu["idle before"] < 0.3 and cpu["idle after"] < 0.3
    assert sum(cpu.values()) <= measured.usage.cpu
