"""Quarantine is a dead-letter queue: after a corrected file arrives, re-driving drains it."""

import json
import os
import subprocess
import sys

import duckdb

DAY = "2026-10-05"


def _event(event_id: str, currency: str) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "type": "invoice.created",
            "occurred_at": f"{DAY}T10:00:00+00:00",
            "invoice_id": f"inv_{event_id}",
            "customer_id": "cus_1",
            "amount_minor": 1000,
            "currency": currency,
            "due_date": "2026-11-04",
        }
    )


def _cli(tmp_path, *args):
    env = {
        **os.environ,
        "BILLING_INBOX": str(tmp_path / "inbox"),
        "BILLING_WAREHOUSE": str(tmp_path / "warehouse"),
    }
    env.pop("DAGSTER_HOME", None)
    return subprocess.run(
        [sys.executable, "-m", "billing_pipeline.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def _quarantined(tmp_path) -> list[tuple]:
    with duckdb.connect(str(tmp_path / "warehouse" / "analytics.duckdb"), read_only=True) as c:
        return c.execute("select line_no, reason from ops.quarantine order by line_no").fetchall()


def test_a_corrected_file_leaves_the_quarantine_when_its_date_is_redriven(tmp_path):
    folder = tmp_path / "inbox" / "events" / DAY
    folder.mkdir(parents=True)
    log = folder / "events.jsonl"
    log.write_text(_event("a", "EUR") + "\n" + _event("b", "EUX") + "\n")
    first = _cli(tmp_path, "run", "--from", DAY, "--to", DAY)
    assert first.returncode == 0, first.stderr[-3000:]
    assert [line for line, _ in _quarantined(tmp_path)] == [2]

    log.write_text(_event("a", "EUR") + "\n" + _event("b", "EUR") + "\n")  # the sender's fix
    redriven = _cli(tmp_path, "redrive", "--from", DAY, "--to", DAY)

    assert redriven.returncode == 0, redriven.stderr[-3000:]
    assert f"{DAY}: 1 quarantined before, 0 after" in redriven.stdout
    assert _quarantined(tmp_path) == []
    with duckdb.connect(str(tmp_path / "warehouse" / "analytics.duckdb"), read_only=True) as c:
        versions = c.execute(
            "select status, path_version from ops.file_registry order by path_version"
        ).fetchall()
    assert versions == [("superseded", 1), ("landed", 2)]
