"""Typed copies of the store's events that reconciliation reads, kept up to date incrementally.

Reconciling a date reads every event up to it, and pulling fields out of the JSON payloads
was the biggest cost of a run (re-parsing the whole history every day). Stored events never
change and only ever get higher `seq` numbers, so each event is parsed once, the first time a
run sees it, into the `recon_cache` tables; a run then filters those by business date.

`recon_cache.watermark` remembers the last `seq` copied, its chain hash, how many events had
been stored up to it and a hash of the extraction SQL. If the store no longer agrees with
that (a rebuilt or replaced store) or the SQL changed, the copies are dropped and rebuilt
from the first event: they are a cache, never a source of truth. The rows keep every field
reconciliation used to read from the payload, with the same casts, so a run's inputs are
exactly what reading `store.events` would give.
"""

from __future__ import annotations

import hashlib

import duckdb

from billing_pipeline.warehouse.event_copies import refresh_copies

DDL = """
create schema if not exists recon_cache;
create table if not exists recon_cache.watermark (
    seq bigint not null, chain_hash varchar not null, events bigint not null,
    extraction varchar not null);
create table if not exists recon_cache.payment_events (
    seq bigint not null, key varchar not null, event_type varchar not null,
    occurred_at timestamptz not null, business_date date not null, payment_id varchar,
    invoice_id varchar, processor varchar, processor_ref varchar, amount_minor bigint,
    currency varchar);
create table if not exists recon_cache.settlement_lines (
    seq bigint not null, key varchar not null, business_date date not null,
    occurred_at timestamptz not null, processor varchar, line_ref varchar, line_type varchar,
    processor_ref varchar, merchant_ref varchar, payout_ref varchar, available_on date,
    currency varchar, gross_minor bigint, fee_minor bigint, net_minor bigint,
    original_currency varchar, original_minor bigint, exchange_rate varchar);
create table if not exists recon_cache.payouts (
    seq bigint not null, key varchar not null, processor varchar, payout_ref varchar,
    bank_reference varchar, batch_number varchar, amount_minor bigint, currency varchar,
    business_date date not null, expected_date date, occurred_at timestamptz not null);
create table if not exists recon_cache.bank_lines (
    seq bigint not null, key varchar not null, account_id varchar, amount_minor bigint,
    currency varchar, business_date date not null, value_date date, remittance_info varchar,
    counterparty varchar, narrative varchar, end_to_end_ref varchar, entry_ref varchar,
    occurred_at timestamptz not null);
create table if not exists recon_cache.invoice_events (
    seq bigint not null, event_type varchar not null, business_date date not null,
    invoice_id varchar, invoice_number varchar, customer_id varchar, amount_minor bigint,
    currency varchar, due_date date);
"""

PAYMENT_STEPS = (
    "('payment.authorized', 'payment.captured', 'payment.failed', 'payment.voided', "
    "'payment.refunded', 'payment.dispute_opened', 'payment.dispute_won')"
)
TABLES = ("payment_events", "settlement_lines", "payouts", "bank_lines", "invoice_events")

# Each payload is parsed once per statement: json_extract_string with a list of paths.
_NEW_EVENTS = "from store.events where seq > $since and event_type {kinds}"

EXTRACT = {
    # Only the lifecycle steps that decide what is reconciled; recon's own decisions
    # (payment.settled, payment.reconciled) are not ledger facts.
    "payment_events": """
        select seq, key, event_type, occurred_at, business_date, f[1], f[2], f[3], f[4],
               f[5]::bigint, f[6]
        from (select seq, idempotency_key as key, event_type, occurred_at, business_date,
                     json_extract_string(payload, ['payment_id', 'invoice_id', 'processor',
                         'processor_ref', 'amount_minor', 'currency']) as f
              {new} and source != 'recon')
    """.replace("{new}", _NEW_EVENTS.format(kinds=f"in {PAYMENT_STEPS}")),
    "settlement_lines": """
        select seq, key, business_date, occurred_at, f[1], f[2], f[3], f[4], f[5], f[6],
               -- Adyen rows carry no available-on date: the delivery date stands in for it.
               coalesce(f[7]::date, partition_date), f[8], f[9]::bigint, f[10]::bigint,
               f[11]::bigint, f[12], f[13]::bigint, f[14]
        from (select seq, idempotency_key as key, business_date, occurred_at, partition_date,
                     json_extract_string(payload, ['processor', 'line_ref', 'line_type',
                         'processor_ref', 'merchant_ref', 'payout_ref', 'available_on',
                         'currency', 'gross_minor', 'fee_minor', 'net_minor',
                         'original_currency', 'original_minor', 'exchange_rate']) as f
              {new})
    """.replace("{new}", _NEW_EVENTS.format(kinds="like 'settlement.%'")),
    "payouts": """
        select seq, key, f[1], f[2], f[3], nullif(regexp_extract(f[2], '(\\d+)$', 1), ''),
               f[4]::bigint, f[5], business_date,
               greatest(coalesce(f[6]::date, business_date), business_date), occurred_at
        from (select seq, idempotency_key as key, business_date, occurred_at,
                     json_extract_string(payload, ['processor', 'payout_ref',
                         'bank_reference', 'amount_minor', 'currency', 'arrival_date']) as f
              {new})
    """.replace("{new}", _NEW_EVENTS.format(kinds="= 'payout.sent'")),
    "bank_lines": """
        select seq, key, f[1], f[2]::bigint, f[3], business_date, f[4]::date, f[5], f[6],
               -- Where the payer's name is depends on the format (camt: a field; MT940/BAI2:
               -- the text).
               concat_ws(' ', f[6], f[5]), f[7], f[8], occurred_at
        from (select seq, idempotency_key as key, business_date, occurred_at,
                     json_extract_string(payload, ['account_id', 'amount_minor', 'currency',
                         'value_date', 'remittance_info', 'counterparty', 'end_to_end_ref',
                         'entry_ref']) as f
              {new})
    """.replace("{new}", _NEW_EVENTS.format(kinds="in ('bank.credit', 'bank.debit')")),
    "invoice_events": """
        select seq, event_type, business_date, f[1], f[2], f[3], f[4]::bigint, f[5],
               f[6]::date
        from (select seq, event_type, business_date,
                     json_extract_string(payload, ['invoice_id', 'invoice_number',
                         'customer_id', 'amount_minor', 'currency', 'due_date']) as f
              {new})
    """.replace("{new}", _NEW_EVENTS.format(kinds="like 'invoice.%'")),
}

INSERT = {table: f"insert into recon_cache.{table} {sql}" for table, sql in EXTRACT.items()}
# Copies made by other extraction SQL (an older release) are rebuilt, not mixed with new ones.
EXTRACTION = hashlib.sha256((DDL + "".join(INSERT.values())).encode()).hexdigest()[:16]


def refresh(conn: duckdb.DuckDBPyConnection) -> int:
    """Copy the events stored since the last run into `recon_cache`; returns how many."""
    conn.execute(DDL)
    return refresh_copies(conn, "recon_cache", TABLES, list(INSERT.values()), EXTRACTION)
