"""fx.exposure_by_settlement dates a processor-clearing item by the latest available-on date
of its payout's settlement lines known on each day: built by dbt on a hand-made ledger."""

from __future__ import annotations

import json
from datetime import date, timedelta

import duckdb
import pytest

from billing_pipeline import settings
from billing_pipeline.warehouse import ledger_keys
from billing_pipeline.warehouse.ledger import ensure_ledger
from billing_pipeline.warehouse.tables import ensure_schema
from tests.support import dbt, insert_journal_lines

ITEM = "payout:stripe:po_1"
OPENED, CLOSED = date(2026, 10, 5), date(2026, 10, 20)
# (known on, available on): the latest known date wins, also among lines known the same day; an
# earlier one arriving later does not move it, and a line without an available-on date counts
# as available the day it is known.
LINES = [
    (date(2026, 10, 5), date(2026, 10, 8)),
    (date(2026, 10, 6), None),
    (date(2026, 10, 7), date(2026, 10, 30)),
    (date(2026, 10, 9), date(2026, 10, 1)),
    (date(2026, 10, 12), date(2026, 11, 25)),
    (date(2026, 10, 12), date(2026, 10, 14)),
]


def _bucket(as_of: date, expected: date) -> str:
    days = (expected - as_of).days
    if days < 0:
        return "overdue"
    return "0-7d" if days <= 7 else "8-30d" if days <= 30 else "31-90d" if days <= 90 else "90d+"


def _clearing_line(fact_id: str, day: date, debit: int, credit: int) -> dict:
    return {
        "fact_id": fact_id, "fact_type": "payment.captured",
        "account": "assets:processor_clearing:stripe", "currency": "EUR",
        "debit_minor": debit, "credit_minor": credit, "effective_date": day,
        "functional_debit_minor": debit * 11 // 10, "functional_credit_minor": credit * 11 // 10,
        "rate": "1.1", "fx_item": ITEM,
    }  # fmt: skip


def _settlement_event(seq: int, known_on: date, available_on: date | None) -> tuple:
    payload = {"processor": "stripe", "payout_ref": "po_1", "line_type": "charge"}
    if available_on is not None:
        payload["available_on"] = available_on.isoformat()
    return (
        seq, f"settlement:{seq}", "settlement.charge", f"{known_on} 12:00:00+00", known_on,
        "payout", "po_1", json.dumps(payload), "h", "h", "h", "stripe", "f", seq, known_on,
        f"{known_on} 12:00:00+00", "r",
    )  # fmt: skip


# How much of the settlement lines the ledger's typed copies hold when dbt builds the mart
# (`ledger_keys`): none, all, the first three (the rest stored after the ledger's run), or all
# but made by another release's extraction (which the mart must not trust).
COPIES = ("none", "all", "first_three", "another_release")


@pytest.mark.parametrize("copies", COPIES)
def test_clearing_items_are_dated_by_the_latest_available_on_known_each_day(
    warehouse, monkeypatch, copies
):
    monkeypatch.setenv(settings.LEDGER_KEYS_EXTRACTION_ENV, ledger_keys.EXTRACTION)
    events = [_settlement_event(seq, *line) for seq, line in enumerate(LINES, start=1)]
    copied = {"none": 0, "all": len(events), "first_three": 3, "another_release": len(events)}
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
        ensure_ledger(conn)
        insert_journal_lines(
            conn,
            [_clearing_line("open", OPENED, 1000, 0), _clearing_line("close", CLOSED, 0, 1000)],
        )
        insert = (
            "insert into store.events values (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        if copied[copies]:
            conn.executemany(insert, events[: copied[copies]])
            ledger_keys.refresh(conn)
        if copied[copies] < len(events):
            conn.executemany(insert, events[copied[copies] :])
        if copies == "another_release":
            # Copies the mart cannot vouch for: their dates are wrong, the payloads right.
            conn.execute("update ledger_cache.event_keys set available_on = date '2030-01-01'")
            conn.execute("update ledger_cache.watermark set extraction = 'older'")
        else:
            # A copied line's payload is not read again: blanked, it changes nothing.
            conn.execute("update store.events set payload = '{}' where seq <= ?", [copied[copies]])
    result = dbt("run", "--select", "exposure_by_settlement", warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-3000:]

    with duckdb.connect(str(warehouse / "billing.duckdb"), read_only=True) as conn:
        rows = conn.execute(
            "select as_of_date, expected_basis, settlement_bucket, earliest_expected_on, "
            "open_amount_minor from fx.exposure_by_settlement order by as_of_date"
        ).fetchall()
    expected = []
    for offset in range((CLOSED - OPENED).days):
        as_of = OPENED + timedelta(days=offset)
        known = [available or known_on for known_on, available in LINES if known_on <= as_of]
        latest = max(known)
        expected.append((as_of, "settlement_available_on", _bucket(as_of, latest), latest, 1000))
    assert rows == expected
