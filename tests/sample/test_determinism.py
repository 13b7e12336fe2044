from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

from billing_pipeline.sample import AnomalyRates, generate_world

WORLD = {"start": date(2026, 10, 9), "end": date(2026, 10, 12), "payments_per_day": 30}


def _digest_tree(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_same_seed_and_options_give_byte_identical_inbox_and_truth(tmp_path):
    generate_world(tmp_path / "a" / "inbox", None, seed=3, **WORLD)
    generate_world(tmp_path / "b" / "inbox", tmp_path / "b" / "elsewhere", seed=3, **WORLD)
    assert _digest_tree(tmp_path / "a" / "inbox") == _digest_tree(tmp_path / "b" / "inbox")
    assert _digest_tree(tmp_path / "a" / "truth") == _digest_tree(tmp_path / "b" / "elsewhere")


def test_truth_goes_beside_the_inbox_by_default_and_leaves_no_spool(tmp_path):
    generate_world(tmp_path / "inbox", None, seed=3, **WORLD)
    assert (tmp_path / "truth" / "control_totals.json").exists()
    assert not [p for p in (tmp_path / "truth").iterdir() if p.name.startswith(".spool")]


def test_a_different_seed_gives_different_files(tmp_path):
    generate_world(tmp_path / "a" / "inbox", None, seed=3, **WORLD)
    generate_world(tmp_path / "b" / "inbox", None, seed=4, **WORLD)
    a, b = _digest_tree(tmp_path / "a" / "inbox"), _digest_tree(tmp_path / "b" / "inbox")
    events = "events/2026-10-09/events.jsonl"
    assert a[events] != b[events]


def test_no_anomalies_when_every_rate_is_zero(tmp_path):
    summary = generate_world(
        tmp_path / "inbox", None, seed=3, anomaly_rates=AnomalyRates.none(), **WORLD
    )
    assert summary.anomalies == {}
    header_only = (tmp_path / "truth" / "anomalies.csv").read_text().splitlines()
    assert header_only == ["kind,reference,file,line,detail"]


def test_output_does_not_depend_on_the_hash_seed(tmp_path):
    script = (
        "import sys; from datetime import date; from pathlib import Path;"
        "from billing_pipeline.sample import generate_world;"
        "generate_world(Path(sys.argv[1]), None, date(2026, 10, 9), date(2026, 10, 11), 20, 5)"
    )
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed, "TZ": f"Etc/GMT+{hash_seed}"}
        subprocess.run(
            [sys.executable, "-c", script, str(tmp_path / hash_seed / "inbox")], check=True, env=env
        )
    assert _digest_tree(tmp_path / "1") == _digest_tree(tmp_path / "2")
