"""The ledger scopes runs by keys copied out of the payloads once (`ledger_cache.event_keys`).

The copies must say exactly what the payloads say, null handling included, after any number
of appends; and when the store is not the one they were taken from, they are rebuilt rather
than trusted.
"""

from __future__ import annotations

import json
from datetime import date

import duckdb

from billing_pipeline.warehouse import ledger_keys
from billing_pipeline.warehouse.event_store import ensure_store
from billing_pipeline.warehouse.lifecycles import INVOICE_EVENTS, INVOICE_TYPED

# What `ledger_scope` used to read from every payload, every run, then what the journal's
# facts read (`journal._FACT_SQL`), what the invoice fold reads, what the marts read
# (`fx.exposure_by_settlement`) and the event's lineage.
FROM_PAYLOADS = """
select seq, idempotency_key, event_type, occurred_at,
       coalesce(payload->>'payment_id', chr(0)), payload->>'invoice_id',
       payload->>'customer_id', payload->>'processor', payload->>'processor_ref',
       try_cast(payload->>'amount_minor' as bigint), payload->>'currency',
       payload->>'line_type', payload->>'payout_ref', payload->>'original_currency',
       try_cast(payload->>'gross_minor' as bigint), try_cast(payload->>'original_minor' as bigint),
       try_cast(payload->>'net_minor' as bigint), try_cast(payload->>'fee_minor' as bigint),
       payload->>'account_id', payload->>'tx_code', payload->>'holding_account',
       payload->>'bank_line_key', try_cast(payload->>'due_date' as date),
       try_cast(payload->>'applied_minor' as bigint),
       try_cast(payload->>'overpaid_minor' as bigint),
       try_cast(payload->>'available_on' as date),
       business_date, partition_date, source_line, file_id
from store.events
"""
COPIES = "select * from ledger_cache.event_keys"

PAYLOADS = [
    ("payment.authorized", {"payment_id": "pay_1", "invoice_id": "in_1", "customer_id": "c_1",
                            "processor": "stripe", "processor_ref": "ch_1"}),
    ("payment.captured", {"payment_id": None, "processor": "adyen", "processor_ref": 42,
                          "amount_minor": 1250, "currency": "EUR"}),
    ("invoice.sent", {"invoice_id": "in_1", "customer_id": None}),
    ("invoice.sent", {"invoice_id": "in_3", "due_date": "2026-11-30", "amount_minor": 900}),
    ("invoice.sent", {"invoice_id": "in_4", "due_date": "30/11/2026"}),
    ("recon.cash_applied", {"invoice_id": "in_2", "bank_line_key": "b_1"}),
    ("settlement.charge", {"processor": "stripe", "processor_ref": "ch_1", "extra": [1, 2]}),
    ("settlement.charge", {"processor": "adyen", "line_type": "charge", "payout_ref": "po_1",
                           "original_currency": "GBP", "gross_minor": "1000", "net_minor": 970,
                           "original_minor": "x1", "fee_minor": -30, "currency": "EUR"}),
    ("settlement.charge", {"processor": "stripe", "payout_ref": "po_2",
                           "available_on": "2026-11-30"}),
    ("settlement.refund", {"processor": "stripe", "available_on": "next week"}),
    ("bank.debit", {"account_id": "DE89", "tx_code": "NCHG", "amount_minor": -150}),
    ("recon.cash_applied", {"holding_account": None, "bank_line_key": "bank:1:ref:2:1",
                            "applied_minor": 5}),
    ("recon.cash_applied", {"invoice_id": "in_3", "applied_minor": "900", "overpaid_minor": 12}),
    ("payment.refunded", {"amount_minor": "12.5", "currency": None}),
    ("payment.authorized", {"amount_minor": 7, "currency": "JPY"}),
]  # fmt: skip


def _append(conn: duckdb.DuckDBPyConnection, payloads, chain: str = "h") -> None:
    (last,) = conn.execute("select coalesce(max(seq), 0) from store.events").fetchone()
    for offset, (event_type, payload) in enumerate(payloads, start=1):
        seq = last + offset
        conn.execute(
            "insert into store.events values ($seq, $key, $type, "
            "timestamptz '2026-10-05 10:00:00+00' + to_seconds($seq), date '2026-10-05', "
            "'x', null, $payload, 'p', 'prev', $chain || $seq, 'events', 'f', $seq, "
            "date '2026-10-05', now(), 'r')",
            {"seq": seq, "key": f"ev_{seq}", "type": event_type, "payload": json.dumps(payload),
             "chain": chain},
        )  # fmt: skip


def _disagreements(conn: duckdb.DuckDBPyConnection) -> list:
    return conn.execute(
        f"({COPIES} except all {FROM_PAYLOADS}) union all ({FROM_PAYLOADS} except all {COPIES})"
    ).fetchall()


def test_key_copies_agree_with_the_payloads_after_each_append():
    conn = duckdb.connect()
    ensure_store(conn)
    _append(conn, PAYLOADS[:3])
    assert ledger_keys.refresh(conn) == 3
    _append(conn, PAYLOADS[3:])
    assert ledger_keys.refresh(conn) == len(PAYLOADS) - 3
    assert ledger_keys.refresh(conn) == 0
    count = "select count(*) from ledger_cache.event_keys"
    assert conn.execute(count).fetchone() == (len(PAYLOADS),)
    assert _disagreements(conn) == []
    nulls = "select payment_key, customer_id from ledger_cache.event_keys where seq = 2"
    assert conn.execute(nulls).fetchall() == [(chr(0), None)]


def test_the_invoice_fold_reads_from_the_copies_what_it_reads_from_the_payloads():
    """A scoped or resumed invoice fold reads its events from the copies (`INVOICE_TYPED`);
    a full one from the payloads (`INVOICE_EVENTS`): the same rows, amounts, due dates and
    a cash application's overpaid part included, whatever the payload holds."""
    conn = duckdb.connect()
    ensure_store(conn)
    _append(conn, PAYLOADS)
    ledger_keys.refresh(conn)
    typed, parsed = INVOICE_TYPED.format(scope=""), INVOICE_EVENTS.format(scope="")
    rows = conn.execute(typed).fetchall()
    assert len(rows) == 6 and sorted(rows) == sorted(conn.execute(parsed).fetchall())
    applied = {row[0]: row[5] for row in rows if row[1] == "invoice.payment_applied"}
    assert set(applied.values()) == {None, 5, 912}
    assert {row[7] for row in rows} == {None, date(2026, 11, 30)}


def test_key_copies_are_rebuilt_when_the_store_is_replaced():
    conn = duckdb.connect()
    ensure_store(conn)
    _append(conn, PAYLOADS)
    ledger_keys.refresh(conn)
    # Another store with as many events: same seqs, other chain and other keys.
    conn.execute("delete from store.events")
    _append(conn, [(t, {**p, "payment_id": "other"}) for t, p in PAYLOADS], chain="other")
    assert ledger_keys.refresh(conn) == len(PAYLOADS)
    assert _disagreements(conn) == []


def test_key_copies_of_a_run_stopped_half_way_are_not_kept():
    conn = duckdb.connect()
    ensure_store(conn)
    _append(conn, PAYLOADS[:2])
    ledger_keys.refresh(conn)
    # Rows past the watermark, as an interrupted copy outside a transaction would leave.
    conn.execute(
        "insert into ledger_cache.event_keys (seq, idempotency_key, event_type, occurred_at, "
        "payment_key) values (99, 'stray', 'payment.captured', now(), 'p')"
    )
    _append(conn, PAYLOADS[2:])
    ledger_keys.refresh(conn)
    assert _disagreements(conn) == []


def test_copies_of_an_older_layout_gain_the_new_columns_and_are_refilled():
    conn = duckdb.connect()
    ensure_store(conn)
    _append(conn, PAYLOADS)
    # The layout and watermark a release before amount_minor and currency left.
    conn.execute(
        "create schema ledger_cache; "
        "create table ledger_cache.watermark (seq bigint not null, chain_hash varchar not null, "
        "events bigint not null, extraction varchar not null); "
        "create table ledger_cache.event_keys (seq bigint not null, "
        "idempotency_key varchar not null, event_type varchar not null, "
        "occurred_at timestamptz not null, payment_key varchar not null, invoice_id varchar, "
        "customer_id varchar, processor varchar, processor_ref varchar)"
    )
    conn.execute(
        "insert into ledger_cache.event_keys select seq, idempotency_key, event_type, "
        "occurred_at, 'stale', null, null, null, null from store.events"
    )
    conn.execute(
        "insert into ledger_cache.watermark select max(seq), arg_max(chain_hash, seq), "
        "count(*), 'older' from store.events"
    )
    assert ledger_keys.refresh(conn) == len(PAYLOADS)
    assert _disagreements(conn) == []
