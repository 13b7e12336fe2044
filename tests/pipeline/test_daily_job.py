"""Real runs of the daily job on a generated world, through the command line."""

import csv
import json
import os
import subprocess
import sys
from datetime import date
from pathlib import Path

import duckdb
import pytest

from billing_pipeline.sample import generate_world
from tests.support import published_snapshot

pytestmark = pytest.mark.e2e

START, END = "2026-10-05", "2026-10-07"
CLI = [sys.executable, "-m", "billing_pipeline.cli"]


def _run(root: Path, *args: str) -> subprocess.CompletedProcess:
    env = {
        **os.environ,
        "BILLING_INBOX": str(root / "inbox"),
        "BILLING_WAREHOUSE": str(root / "warehouse"),
    }
    env["BILLING_RESOLUTIONS"] = str(root / "resolutions")
    env.pop("DAGSTER_HOME", None)
    return subprocess.run([*CLI, *args], env=env, capture_output=True, text=True, check=False)


def _published(root: Path) -> dict[str, list[tuple]]:
    return published_snapshot(root / "warehouse" / "analytics.duckdb")


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("world")
    generate_world(
        inbox=root / "inbox",
        truth_dir=root / "truth",
        start=date.fromisoformat(START),
        end=date.fromisoformat(END),
        payments_per_day=60,
        seed=11,
    )
    result = _run(root, "run", "--from", START, "--to", END)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return root


def test_a_run_publishes_every_contract_relation(world):
    published = _published(world)
    contract = {
        "ledger.journal_lines",
        "ledger.account_balances_daily",
        "ledger.trial_balance",
        "payments.payment_states",
        "payments.payment_state_history",
        "ops.file_registry",
        "ops.quarantine",
    }
    assert contract <= set(published)
    assert published["ledger.journal_lines"], "a generated world must post entries"


def test_published_ledger_balances_and_no_row_is_lost(world):
    with duckdb.connect(str(world / "warehouse" / "analytics.duckdb"), read_only=True) as conn:
        unbalanced = conn.execute(
            "select as_of_date, currency from ledger.trial_balance "
            "where total_debit_minor != total_credit_minor"
        ).fetchall()
        # FX entries move functional value between currencies: the functional currency nets
        # to zero over the whole ledger on each date, not within each transaction currency.
        functional = conn.execute(
            "select as_of_date from ledger.trial_balance group by as_of_date "
            "having sum(functional_net_minor) != 0"
        ).fetchall()
        lost = conn.execute(
            "select path from ops.file_registry where status = 'landed' "
            "and rows_read != rows_staged + rows_quarantined"
        ).fetchall()
        files = conn.execute("select count(*) from ops.file_registry").fetchone()[0]
    delivered = sum(1 for p in (world / "inbox").rglob("*") if p.is_file())
    assert unbalanced == []
    assert functional == []
    assert lost == []
    assert files == delivered  # every delivered file is accounted for, duplicates included


def test_every_malformed_row_of_the_truth_is_quarantined(world):
    with (world / "truth" / "anomalies.csv").open(newline="") as handle:
        malformed = [row for row in csv.DictReader(handle) if row["kind"] == "malformed_row"]
    with duckdb.connect(str(world / "warehouse" / "analytics.duckdb"), read_only=True) as conn:
        quarantined = {
            (path, line)
            for path, line in conn.execute(
                "select path, line_no from ops.quarantine where stage in ('parse', 'validate')"
            ).fetchall()
        }
    for row in malformed:
        assert (row["file"], int(row["line"])) in quarantined, json.dumps(row)


def test_rerunning_a_business_date_changes_nothing_published(world):
    before = _published(world)
    result = _run(world, "run", "--from", END, "--to", END)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    assert _published(world) == before


def test_cash_in_the_ledger_agrees_with_the_bank_statements(world):
    from billing_pipeline.domain.accounts import bank_account

    with duckdb.connect(str(world / "warehouse" / "billing.duckdb"), read_only=True) as conn:
        statements = conn.execute(
            """
            select account_id, currency,
                   arg_min(amount_minor, as_of_date) filter (balance_type = 'opening'),
                   arg_max(amount_minor, as_of_date) filter (balance_type = 'closing'),
                   max(as_of_date) filter (balance_type = 'closing')
            from raw.bank_balances group by all
            """
        ).fetchall()
    with duckdb.connect(str(world / "warehouse" / "analytics.duckdb"), read_only=True) as conn:
        for account_id, currency, opening, closing, last_day in statements:
            (balance,) = conn.execute(
                "select balance_minor from ledger.account_balances_daily "
                "where account = ? and currency = ? and as_of_date = ?",
                [bank_account(account_id), currency, last_day],
            ).fetchone()
            # The ledger starts from zero: it holds exactly what moved since the first statement.
            assert balance == closing - opening, account_id


def test_a_controller_write_off_is_posted_and_audited_and_a_bad_line_is_reported(world):
    analytics = world / "warehouse" / "analytics.duckdb"
    with duckdb.connect(str(analytics), read_only=True) as conn:
        open_items = conn.execute(
            "select discrepancy_id, amount_minor from recon.discrepancies "
            "where status = 'open' and amount_minor != 0 order by discrepancy_id"
        ).fetchall()
    assert open_items, "the generated world must leave something to resolve"
    discrepancy_id, _ = open_items[0]
    resolutions = world / "resolutions.csv"
    resolutions.write_text(
        "discrepancy_id,action,note,who,refs\n"
        f"{discrepancy_id},write_off,agreed with the processor,controller@example.com,\n"
        "0000000000000000,accept,no such item,controller@example.com,\n"
    )
    env_extra = ["--file", str(resolutions)]
    result = _run(world, "resolve", *env_extra)

    assert result.returncode == 1  # one line was rejected, and the command says so
    assert "unknown discrepancy id" in result.stderr
    with duckdb.connect(str(analytics), read_only=True) as conn:
        (status,) = conn.execute(
            "select status from recon.discrepancies where discrepancy_id = ?", [discrepancy_id]
        ).fetchone()
        write_off_lines = conn.execute(
            "select count(*) from ledger.journal_lines where entry_type = 'recon.write_off'"
        ).fetchone()[0]
        log = conn.execute(
            "select line, outcome from recon.resolutions_log order by line"
        ).fetchall()
    assert status == "written_off"
    assert write_off_lines >= 2
    assert log == [(2, "applied"), (3, "rejected")]


def test_the_payout_clearing_audit_holds_and_catches_lost_fee_lines(world, tmp_path):
    import shutil

    from billing_pipeline.warehouse.audits import payouts_not_netting

    copy = tmp_path / "billing.duckdb"
    shutil.copy(world / "warehouse" / "billing.duckdb", copy)
    with duckdb.connect(str(copy)) as conn:
        assert payouts_not_netting(conn) == []
        touched = {
            item
            for (item,) in conn.execute(
                "select distinct fx_item from ledger_store.journal_lines "
                "where fact_type = 'settlement.fee' and fx_item like 'payout:%'"
            ).fetchall()
        }
        conn.execute("delete from ledger_store.journal_lines where fact_type = 'settlement.fee'")
        flagged = {v["payout"] for v in payouts_not_netting(conn)}
    assert flagged and flagged <= touched


def test_the_dbt_step_keeps_its_run_results_and_writes_no_debug_log(world):
    # `--log-level-file none` (defs/transform.py): the debug log cost ~0.5 s CPU a run.
    # run_results.json stays: each node's outcome, read by benchmarks/dbt_stages.py.
    target = world / "warehouse" / "dbt_target"
    results = json.loads((target / "run_results.json").read_text())["results"]
    assert {r["status"] for r in results} == {"success", "pass"}
    assert not (target / "dbt.log").exists()
