"""The harness tells which step of a run set its memory peak (benchmarks/memory.py)."""

from __future__ import annotations

import sys

import pytest

from benchmarks.measure import run_measured
from benchmarks.memory import Sample, is_available, peaks_by_window, tree

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
