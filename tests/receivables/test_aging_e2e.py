"""Receivables on a generated world run through the command line, day by day.

Days 1-3 are run first and the published receivables are kept; then days 4-5 arrive. A report
for a date already published must not change. Day 4 also carries two invoices that end in
illegal transitions (a card payment on a void invoice, a write-off of a paid invoice).
"""

import json
import os
import subprocess
import sys
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import polars as pl
import pytest

from billing_pipeline.domain.invoices import aging_bucket
from billing_pipeline.domain.rounding import convert_minor
from billing_pipeline.receivables.version_builds import (
    EVERYTHING,
    versions_frame,
    versions_relation,
)
from billing_pipeline.sample import generate_world

pytestmark = pytest.mark.e2e

DAYS = [date(2026, 10, 5) + timedelta(days=i) for i in range(5)]
CLI = [sys.executable, "-m", "billing_pipeline.cli"]
VOID_INVOICE, PAID_INVOICE = "inv_case_void", "inv_case_paid"
VOID_CAPTURE, WRITE_OFF = "evt_case_void_capture", "evt_case_paid_write_off"
LATE_INVOICE, LATE_NOTE = "inv_case_late", "evt_case_late_credit_note"
STABLE = ("invoice_aging", "aging_by_customer", "dso", "dunning")


def _run(root: Path, first: date, last: date) -> None:
    env = {
        **os.environ,
        "BILLING_INBOX": str(root / "inbox"),
        "BILLING_WAREHOUSE": str(root / "warehouse"),
    }
    env.pop("DAGSTER_HOME", None)
    result = subprocess.run(
        [*CLI, "run", "--from", first.isoformat(), "--to", last.isoformat()],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]


def _illegal_cases(day: date) -> list[dict]:
    """Two invoices of day 4 whose last event the invoice lifecycle must refuse."""
    t = f"{day.isoformat()}T%02d:00:00+00:00"
    common = {"customer_id": "cust_case", "currency": "EUR", "due_date": "2026-10-20"}

    def invoice(event_id, kind, hour, invoice_id, amount=5_000):
        return {
            "event_id": event_id,
            "type": kind,
            "occurred_at": t % hour,
            "invoice_id": invoice_id,
            "amount_minor": amount,
            **common,
        }

    def payment(event_id, kind, hour, payment_id, invoice_id, amount=5_000):
        return {
            "event_id": event_id,
            "type": kind,
            "occurred_at": t % hour,
            "payment_id": payment_id,
            "customer_id": "cust_case",
            "invoice_id": invoice_id,
            "amount_minor": amount,
            "currency": "EUR",
            "processor": "stripe",
            "processor_ref": f"ch_{payment_id}",
        }

    return [
        # A credit note issued on day 2 that only reaches us in day 4's log.
        {
            **invoice(LATE_NOTE, "invoice.credit_note_issued", 20, LATE_INVOICE, 2_500),
            "occurred_at": f"{DAYS[1].isoformat()}T20:00:00+00:00",
        },
        invoice("evt_case_void_1", "invoice.created", 8, VOID_INVOICE),
        invoice("evt_case_void_2", "invoice.sent", 9, VOID_INVOICE),
        invoice("evt_case_void_3", "invoice.voided", 10, VOID_INVOICE),
        payment("evt_case_void_p1", "payment.created", 11, "pay_case_void", VOID_INVOICE),
        payment("evt_case_void_p2", "payment.authorized", 11, "pay_case_void", VOID_INVOICE),
        payment(VOID_CAPTURE, "payment.captured", 12, "pay_case_void", VOID_INVOICE),
        invoice("evt_case_paid_1", "invoice.created", 8, PAID_INVOICE),
        invoice("evt_case_paid_2", "invoice.sent", 9, PAID_INVOICE),
        payment("evt_case_paid_p1", "payment.created", 10, "pay_case_paid", PAID_INVOICE),
        payment("evt_case_paid_p2", "payment.authorized", 10, "pay_case_paid", PAID_INVOICE),
        payment("evt_case_paid_p3", "payment.captured", 11, "pay_case_paid", PAID_INVOICE),
        invoice(WRITE_OFF, "invoice.written_off", 14, PAID_INVOICE),
    ]


def _late_invoice() -> list[dict]:
    """Day 2: an invoice of 9000 EUR, due on day 3."""
    common = {"invoice_id": LATE_INVOICE, "customer_id": "cust_case", "amount_minor": 9_000,
              "currency": "EUR", "due_date": DAYS[2].isoformat()}  # fmt: skip
    at = f"{DAYS[1].isoformat()}T%02d:00:00+00:00"
    return [
        {"event_id": "evt_case_late_1", "type": "invoice.created", "occurred_at": at % 8, **common},
        {"event_id": "evt_case_late_2", "type": "invoice.sent", "occurred_at": at % 9, **common},
    ]


def _rows(path: Path, sql: str, params=None) -> list[tuple]:
    with duckdb.connect(str(path), read_only=True) as conn:
        return conn.execute(sql, params or []).fetchall()


def _published(root: Path, relation: str, until: date) -> list[tuple]:
    rows = _rows(
        root / "warehouse" / "analytics.duckdb",
        f"select * from receivables.{relation} where as_of_date <= ?",
        [until],
    )
    return sorted(rows, key=repr)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("receivables")
    generate_world(
        inbox=root / "inbox",
        truth_dir=root / "truth",
        start=DAYS[0],
        end=DAYS[-1],
        payments_per_day=40,
        seed=11,
    )
    cases = root / "inbox" / "events" / DAYS[3].isoformat() / "zz_lifecycle_cases.jsonl"
    cases.write_text("".join(json.dumps(e) + "\n" for e in _illegal_cases(DAYS[3])))
    late = root / "inbox" / "events" / DAYS[1].isoformat() / "zz_late_case.jsonl"
    late.write_text("".join(json.dumps(e) + "\n" for e in _late_invoice()))
    _run(root, DAYS[0], DAYS[2])
    before = {name: _published(root, name, DAYS[2]) for name in STABLE}
    _run(root, DAYS[3], DAYS[4])
    return root, before


def test_reports_for_published_dates_do_not_change_when_later_days_arrive(world):
    root, before = world
    assert before["invoice_aging"], "the first three days published an aging"
    for name in STABLE:
        assert _published(root, name, DAYS[2]) == before[name], name


def test_invoice_versions_built_incrementally_equal_a_fold_of_all_history(world):
    root, _ = world
    with duckdb.connect(str(root / "warehouse" / "billing.duckdb"), read_only=True) as conn:
        refolded = versions_frame(conn, EVERYTHING)
        built = conn.sql("select * from intermediate.int_invoice_versions").pl()
    key = ["invoice_id", "known_from"]
    columns = [c for c in refolded.columns if c != "built_through_seq"]
    # (the same instants; the reading connection may name UTC "Etc/UTC")
    utc = pl.col("state_since").dt.convert_time_zone("UTC")
    same = [f.select(columns).with_columns(utc).sort(key) for f in (built, refolded)]
    assert same[0].equals(same[1])
    # The second run (days 4-5) refolded only the invoices its events reached, the late
    # credit note's invoice of day 2 among them.
    builds = built.group_by("built_through_seq").agg(invoices=pl.col("invoice_id").unique())
    assert len(builds) == 2
    latest = builds.sort("built_through_seq")["invoices"][-1].to_list()
    assert LATE_INVOICE in latest and len(latest) < built["invoice_id"].n_unique()


def test_incremental_builds_of_invoice_versions_leave_no_scratch_tables_behind(world):
    # The second run (days 4-5) built int_invoice_versions incrementally; dbt-duckdb wrote
    # its new rows to a scratch table it never drops (dbt_project/macros/
    # drop_python_model_scratch.sql): one more table in billing.duckdb every daily run.
    root, _ = world
    leftovers = _rows(
        root / "warehouse" / "billing.duckdb",
        "select schema_name || '.' || table_name from duckdb_tables() "
        "where contains(table_name, '__dbt_')",
    )
    assert leftovers == []


def test_invoice_versions_folded_a_bucket_of_invoices_at_a_time_equal_one_fold_of_all(world):
    root, _ = world
    with duckdb.connect(str(root / "warehouse" / "billing.duckdb")) as conn:
        whole = versions_frame(conn, EVERYTHING)
        # Batches of ~10 history rows: several buckets, each a few invoices whole.
        batched = versions_relation(conn, EVERYTHING, batch_rows=10).pl()
        [(rows,)] = conn.execute("select count(*) from ledger_store.invoice_history").fetchall()
    assert rows > 30, "enough history for several buckets"
    key = ["invoice_id", "known_from"]
    # (the same instants; DuckDB may hand UTC back as "Etc/UTC")
    utc = pl.col("state_since").dt.convert_time_zone("UTC")
    assert batched.with_columns(utc).sort(key).equals(whole.with_columns(utc).sort(key))


def test_aging_equals_the_receivables_the_ledger_knew_on_every_date(world):
    root, _ = world
    warehouse = root / "warehouse" / "billing.duckdb"
    aging = dict(
        ((d, c), n)
        for d, c, n in _rows(
            root / "warehouse" / "analytics.duckdb",
            "select as_of_date, currency, sum(amount_due_minor) from receivables.invoice_aging "
            "group by all",
        )
    )
    ledger = {}
    for day in DAYS:
        for currency, balance in _rows(
            warehouse,
            "select currency, sum(debit_minor - credit_minor) from ledger_store.journal_lines "
            "where account = 'assets:receivables' and effective_date <= ? "
            "and partition_date <= ? group by all",
            [day, day],
        ):
            if balance or (day, currency) in aging:
                ledger[(day, currency)] = balance
    assert {k: v for k, v in aging.items() if v} == {k: v for k, v in ledger.items() if v}
    assert sum(aging.values()) > 0


def test_latest_aging_is_the_open_invoices_and_the_receivables_balance(world):
    root, _ = world
    analytics = root / "warehouse" / "analytics.duckdb"
    aging = _rows(
        analytics,
        "select invoice_id, amount_due_minor from receivables.invoice_aging "
        "where as_of_date = ? and amount_due_minor > 0 order by 1",
        [DAYS[-1]],
    )
    states = _rows(
        root / "warehouse" / "billing.duckdb",
        "select invoice_id, amount_due_minor from ledger_store.invoice_states "
        "where state in ('open', 'partially_paid') order by 1",
    )
    assert aging == states
    by_currency = _rows(
        analytics,
        "select currency, sum(amount_due_minor) from "
        "receivables.invoice_aging where as_of_date = ? group by 1 order by 1",
        [DAYS[-1]],
    )
    balances = _rows(
        analytics,
        "select currency, balance_minor from ledger.account_balances_daily "
        "where account = 'assets:receivables' and as_of_date = ? "
        "and balance_minor != 0 order by 1",
        [DAYS[-1]],
    )
    assert [r for r in by_currency if r[1]] == balances


def test_days_past_due_bucket_state_and_functional_amount_of_every_row(world):
    root, _ = world
    rows = _rows(
        root / "warehouse" / "analytics.duckdb",
        "select as_of_date, due_date, amount_due_minor, days_past_due, bucket, state, currency, "
        "functional_currency, functional_amount_due_minor, rate from receivables.invoice_aging",
    )
    overdue = 0
    for on, due, amount, days, bucket, state, ccy, functional, converted, rate in rows:
        owing = state in ("open", "partially_paid", "overdue")
        expected_days = max(0, (on - due).days) if owing and due else 0
        assert (days, bucket) == (expected_days, aging_bucket(expected_days))
        assert (state == "overdue") == (expected_days > 0)
        assert (amount > 0) == owing
        if amount:
            assert converted == convert_minor(amount, ccy, functional, Decimal(rate))
        else:
            assert converted == 0
        overdue += state == "overdue"
    assert overdue > 0, "the world has overdue invoices to age"


def test_illegal_invoice_transitions_are_quarantined_and_keep_the_books_straight(world):
    root, _ = world
    warehouse = root / "warehouse" / "billing.duckdb"
    reasons = dict(
        _rows(
            warehouse,
            "select json_extract_string(raw_record, '$.event_id'), "
            "reason from ingest.quarantine where stage = 'ledger'",
        )
    )
    assert reasons[VOID_CAPTURE] == (
        f"lifecycle: invoice {VOID_INVOICE}: invoice.payment_applied not allowed from void"
    )
    assert reasons[WRITE_OFF] == (
        f"lifecycle: invoice {PAID_INVOICE}: invoice.written_off not allowed from paid"
    )
    # The capture still happened: with no invoice to pay, the money is owed to the customer.
    capture = _rows(
        warehouse,
        "select account, debit_minor, credit_minor from "
        "ledger_store.journal_lines where event_id = ? order by 1",
        [VOID_CAPTURE],
    )
    assert capture == [
        ("assets:processor_clearing:stripe", 5_000, 0),
        ("liabilities:customer_credit", 0, 5_000),
    ]
    assert _rows(
        warehouse, "select count(*) from ledger_store.journal_lines where event_id = ?", [WRITE_OFF]
    ) == [(0,)]
    last = _rows(
        root / "warehouse" / "analytics.duckdb",
        "select invoice_id, state, amount_due_minor from receivables.invoice_aging "
        "where invoice_id in (?, ?) and as_of_date = ? order by 1",
        [PAID_INVOICE, VOID_INVOICE, DAYS[3]],
    )
    assert last == [(PAID_INVOICE, "paid", 0), (VOID_INVOICE, "void", 0)]


def test_a_late_credit_note_restates_the_ledger_but_not_the_aging_published_for_its_date(world):
    root, _ = world
    analytics = root / "warehouse" / "analytics.duckdb"
    aging = _rows(
        analytics,
        "select as_of_date, amount_due_minor, state, bucket from receivables.invoice_aging "
        "where invoice_id = ? order by 1",
        [LATE_INVOICE],
    )
    # Known on day 2 as 9000 due on day 3; the credit note of day 2 is known from day 4.
    assert aging == [
        (DAYS[1], 9_000, "open", "current"),
        (DAYS[2], 9_000, "open", "current"),
        (DAYS[3], 6_500, "overdue", "1-30"),
        (DAYS[4], 6_500, "overdue", "1-30"),
    ]
    # The ledger as known today books the credit note on day 2 (its effective date), so the
    # restated day-2 balance is 2500 below the aging that was reported for day 2.
    (restated,) = _rows(
        analytics,
        "select balance_minor from ledger.account_balances_daily "
        "where account = 'assets:receivables' and currency = 'EUR' and as_of_date = ?",
        [DAYS[1]],
    )
    (reported,) = _rows(
        analytics,
        "select sum(amount_due_minor) from receivables.invoice_aging "
        "where currency = 'EUR' and as_of_date = ?",
        [DAYS[1]],
    )
    assert reported[0] - restated[0] == 2_500
