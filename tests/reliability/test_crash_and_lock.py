"""SIGKILL the daily run at many points, rerun, and get exactly what an uninterrupted run
publishes; analysts never see a half-written file; a second run at once fails cleanly.

World: 2 business dates x 20 payments plus a few bad files. Day 1 is run once; day 2 is run
uninterrupted (the reference, with a second run started beside it), and again from the same
day-1 warehouse in a chain of attempts, each SIGKILLed (the whole process group, dbt
included) at one point of one Dagster step, the next attempt starting from what the previous
one left. The last attempt runs to the end.
"""

from __future__ import annotations

import json
import shutil
import time

import pytest

from tests.reliability import cli_runs as cli
from tests.reliability import templates as t

# Its own command (`make test-crash`, run by CI): 20 killed runs do not fit in `make test`.
pytestmark = [pytest.mark.e2e, pytest.mark.crash]

# (text in the run's output, seconds after it): spread over every step of a business date.
# Dagster step names are quoted in its DEBUG log; inside dbt, its own "START <node>" lines mark
# points that do not depend on how fast the machine is.
KILL_POINTS = [
    ('"ingest".', 0.0),
    ('"ingest".', 0.02),
    ('"ingest".', 0.05),
    ('"ingest".', 0.1),
    ('"ingest".', 0.2),
    ('"store__events".', 0.0),
    ('"store__events".', 0.1),
    ('"reconciliation".', 0.05),
    ('"reconciliation".', 0.25),
    ('"ledger".', 0.05),
    ('"ledger".', 0.3),
    ('"dbt_models".', 0.5),
    ("START sql view model staging.stg_bank__lines", 0.0),
    ("START sql table model ledger.account_balances_daily", 0.0),
    ("START sql table model recon.discrepancies", 0.0),
    ("START sql table model receivables.invoice_aging", 0.0),
    ("START sql table model fx.exposure", 0.0),
    ("START test trial_balance_balances", 0.0),
    ('"analytics".', 0.0),
    ('"analytics".', 0.02),
]
BAD_FILES = {
    ("bank", "mt940_broken_amount.sta"): t.MT940.replace("D610,42", "D6x0,42").encode(),
    ("bank", "x'); drop table raw.bank_lines; --.csv"): t.bank_csv(
        t.bank_csv_row(description="=CMD|' /C calc'!A0", booking=cli.DAY2)
    ).encode(),
    ("stripe", "utf16.csv"): t.stripe_balance().encode("utf-16"),
    ("events", "conflict.jsonl"): t.events(
        t.event("evt_conflict", occurred_at=f"{cli.DAY2}T09:00:00+00:00"),
        t.event("evt_conflict", amount_minor=1, occurred_at=f"{cli.DAY2}T09:00:00+00:00"),
    ).encode(),
}


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    base = tmp_path_factory.mktemp("crash")
    reference, crashed = base / "reference", base / "crashed"
    cli.make_world(reference / "inbox")
    for (source, name), content in BAD_FILES.items():
        (reference / "inbox" / source / cli.DAY2 / name).write_bytes(content)
    cli.run(reference, "run", "--from", cli.DAY1, "--to", cli.DAY1)
    shutil.copytree(reference, crashed)

    started = time.monotonic()
    first = cli.start(reference, "run", "--from", cli.DAY2, "--to", cli.DAY2)
    time.sleep(1.0)
    second = cli.run_raw(reference, "run", "--from", cli.DAY2, "--to", cli.DAY2)
    first_out, _ = first.communicate(timeout=600)
    timings = {"reference_s": time.monotonic() - started}
    assert first.returncode == 0, first_out[-3000:]

    stop, reader_result = base / "stop", base / "reader.json"
    reader = cli.start_reader(crashed / "warehouse" / "analytics.duckdb", stop, reader_result)
    killed = []
    started = time.monotonic()
    try:
        for marker, delay in KILL_POINTS:
            attempt = cli.start(
                crashed, "run", "--from", cli.DAY2, "--to", cli.DAY2, BILLING_LOG="DEBUG"
            )
            if cli.kill_at(attempt, marker, delay):
                killed.append((marker, delay))
        final = cli.run(crashed, "run", "--from", cli.DAY2, "--to", cli.DAY2)
    finally:
        stop.touch()
        reader.wait(timeout=60)
    timings["kill_chain_s"] = time.monotonic() - started
    print(f"crash suite: {len(killed)} kill points, timings {timings}")
    return {
        "reference": reference,
        "crashed": crashed,
        "second": second,
        "killed": killed,
        "final": final,
        "reader": json.loads(reader_result.read_text()),
    }


def test_every_kill_point_was_reached_and_killed_the_run(runs):
    assert len(runs["killed"]) == len(KILL_POINTS) >= 20


def test_after_kills_and_a_rerun_the_published_file_equals_the_uninterrupted_one(runs):
    reference = cli.published(runs["reference"] / "warehouse" / "analytics.duckdb")
    crashed = cli.published(runs["crashed"] / "warehouse" / "analytics.duckdb")
    assert set(reference) == set(crashed)
    assert reference["ledger.journal_lines"], "the world must post entries"
    for relation in sorted(reference):
        assert crashed[relation] == reference[relation], relation


def test_a_killed_publish_leaves_no_temporary_file_after_the_rerun(runs):
    warehouse = runs["crashed"] / "warehouse"
    assert [p.name for p in warehouse.glob(".analytics*")] == []


def test_a_reader_during_the_kills_always_opened_a_complete_file(runs):
    outcome = runs["reader"]
    assert outcome["errors"] == []
    assert outcome["rounds"] >= 20
    assert len(outcome["relations"]) == 1  # one complete set of relations every time


def test_a_second_run_started_beside_a_running_one_fails_at_once_with_a_clear_message(runs):
    second = runs["second"]
    output = " ".join((second.stdout + second.stderr).split())
    assert second.returncode == 1
    assert "another run is writing the warehouse" in output
    assert "nothing was started" in output
    assert "Traceback" not in output


def test_bad_files_went_through_the_real_job_with_their_outcomes(runs):
    import duckdb

    analytics = runs["reference"] / "warehouse" / "analytics.duckdb"
    with duckdb.connect(str(analytics), read_only=True) as conn:
        registry = dict(
            conn.execute(
                "select file_name, status from ops.file_registry where partition_date = ?",
                [cli.DAY2],
            ).fetchall()
        )
        reasons = [r for (r,) in conn.execute("select reason from ops.quarantine").fetchall()]
        unbalanced = conn.execute(
            "select count(*) from ledger.trial_balance "
            "where total_debit_minor != total_credit_minor"
        ).fetchone()
        lost = conn.execute(
            "select count(*) from ops.file_registry where status in ('landed', 'unreadable') "
            "and rows_read != rows_staged + rows_quarantined"
        ).fetchone()
    assert registry["utf16.csv"] == "unreadable"
    assert registry["x'); drop table raw.bank_lines; --.csv"] == "landed"
    assert registry["mt940_broken_amount.sta"] == "landed"
    assert any("D6x0,42" in r and "not readable" in r for r in reasons)
    assert any("conflicting payload for idempotency key evt_conflict" in r for r in reasons)
    assert unbalanced == (0,) and lost == (0,)
