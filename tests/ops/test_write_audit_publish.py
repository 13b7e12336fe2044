"""Write–audit–publish end to end: backfills, concurrent analysts, a failing blocking check.

One small generated world (two business dates) is run three ways through the command line:
A as one two-day backfill, B as two single-day runs with an analyst process reading the
published file throughout the second, C as A's warehouse with a tampered event store.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import duckdb
import pytest

from billing_pipeline.sample import generate_world
from tests.support import published_snapshot

pytestmark = pytest.mark.e2e

DAY1, DAY2 = "2026-10-05", "2026-10-06"
CLI = [sys.executable, "-m", "billing_pipeline.cli"]
READER = Path(__file__).with_name("reader_loop.py")
# Columns that record when or in which run something happened, not what.


def _env(root: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "BILLING_INBOX": str(root / "inbox"),
        "BILLING_WAREHOUSE": str(root / "warehouse"),
    }
    env.pop("DAGSTER_HOME", None)
    return env


def _cli(root: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*CLI, *args], env=_env(root), capture_output=True, text=True, check=False
    )


def _published(root: Path) -> dict[str, list[tuple]]:
    return published_snapshot(root / "warehouse" / "analytics.duckdb")


def _file_identity(path: Path) -> tuple[str, int, int]:
    stat = path.stat()
    return hashlib.sha256(path.read_bytes()).hexdigest(), stat.st_mtime_ns, stat.st_ino


@pytest.fixture(scope="module")
def worlds(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("wap")
    inbox = base / "inbox"
    generate_world(
        inbox=inbox,
        truth_dir=base / "truth",
        start=date.fromisoformat(DAY1),
        end=date.fromisoformat(DAY2),
        payments_per_day=30,
        seed=5,
    )
    roots = {}
    for name in ("backfill", "single_days"):
        roots[name] = base / name
        roots[name].mkdir()
        shutil.copytree(inbox, roots[name] / "inbox")

    backfill = _cli(roots["backfill"], "run", "--from", DAY1, "--to", DAY2)
    assert backfill.returncode == 0, backfill.stdout[-3000:] + backfill.stderr[-3000:]

    single = roots["single_days"]
    first = _cli(single, "run", "--from", DAY1, "--to", DAY1)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    stop, result = base / "stop", base / "reader.json"
    reader = subprocess.Popen(
        [
            sys.executable,
            str(READER),
            str(single / "warehouse" / "analytics.duckdb"),
            str(stop),
            str(result),
        ]
    )
    try:
        second = _cli(single, "run", "--from", DAY2, "--to", DAY2)
    finally:
        time.sleep(0.5)  # a few more rounds against the freshly swapped-in file
        stop.touch()
        reader.wait(timeout=60)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    roots["reader_result"] = result
    return roots


def test_a_two_day_backfill_publishes_what_two_single_day_runs_publish(worlds):
    backfill, single = _published(worlds["backfill"]), _published(worlds["single_days"])
    assert set(backfill) == set(single)
    assert backfill["ledger.journal_lines"], "the world must post entries"
    for relation in sorted(backfill):
        assert backfill[relation] == single[relation], relation


def test_an_analyst_reading_during_a_run_never_meets_a_lock_or_a_half_published_file(worlds):
    outcome = json.loads(worlds["reader_result"].read_text())
    assert outcome["errors"] == []
    assert outcome["rounds"] >= 10
    # Every round saw a complete file: the same full set of relations each time.
    assert len(outcome["relations"]) == 1
    assert "ledger.trial_balance" in outcome["relations"][0]


def _tamper_and_rerun_day2(worlds, folder, sql: str, params=None):
    """A copy of the backfill world with `sql` applied to its warehouse, day 2 run again:
    (the copy, the published file's identity before, rows changed, the rerun, its output,
    its run-log record)."""
    shutil.copytree(worlds["backfill"], folder)
    before = _file_identity(folder / "warehouse" / "analytics.duckdb")
    with duckdb.connect(str(folder / "warehouse" / "billing.duckdb")) as conn:
        changed = conn.execute(sql, params).fetchone()
    rerun = _cli(folder, "run", "--from", DAY2, "--to", DAY2)
    output = " ".join((rerun.stdout + rerun.stderr).split())
    record = json.loads((folder / "warehouse" / "run_log" / f"{DAY2}.json").read_text())
    return before, changed, rerun, output, record


def test_a_failed_blocking_check_keeps_the_published_file_and_names_the_check(worlds, tmp_path):
    tampered = tmp_path / "tampered"
    analytics = tampered / "warehouse" / "analytics.duckdb"
    before, changed, rerun, output, record = _tamper_and_rerun_day2(
        worlds,
        tampered,
        "update store.events set payload = replace(payload, '\"amount_minor\":', "
        "'\"amount_minor\":9') where seq = (select min(seq) from store.events "
        "where payload like '%\"amount_minor\":%')",
    )
    assert changed == (1,)

    assert rerun.returncode == 1
    assert "failed checks: ['store/events:hash_chain_verifies']" in output
    assert "nothing published" in output
    assert _file_identity(analytics) == before
    assert not [p for p in analytics.parent.iterdir() if p.name.endswith(".tmp")]
    assert record["success"] is False and record["published"] is False
    assert [c["check"] for c in record["checks"] if not c["passed"]] == ["hash_chain_verifies"]

    report = _cli(tampered, "report", "--date", DAY2)
    assert report.returncode == 1
    assert "store/events:hash_chain_verifies" in report.stdout
    assert _cli(worlds["backfill"], "report", "--date", DAY2).returncode == 0


def test_a_null_in_a_bundled_not_null_column_fails_dbt_and_publishes_nothing(worlds, tmp_path):
    # not_null_columns checks several columns of a model in one dbt test; a null in any one
    # of them must still fail the build and keep the published file as it was.
    tampered = tmp_path / "null_account"
    # A day-1 row: the rerun of day 2 re-lands day 2 only, and only dbt reads it again.
    before, changed, rerun, output, record = _tamper_and_rerun_day2(
        worlds,
        tampered,
        "update raw.bank_lines set account_id = null where partition_date = ? "
        "and source_line = (select min(source_line) from raw.bank_lines "
        "where partition_date = ?)",
        [DAY1, DAY1],
    )
    assert changed[0] >= 1

    assert rerun.returncode == 1
    assert "nothing published" in output
    assert _file_identity(tampered / "warehouse" / "analytics.duckdb") == before
    assert record["success"] is False and record["published"] is False
    failed = [c["check"] for c in record["checks"] if not c["passed"]]
    assert failed == ["not_null_columns_stg_bank__lines_account_id__amount_minor"]
