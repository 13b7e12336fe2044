"""Typed copies of the event keys an incremental ledger run scopes by, kept up to date.

Scoping a run (`ledger_scope`) and folding its aggregates (`lifecycles`) look events up by
payment, invoice, customer and processor reference; reading those out of the JSON payloads
of every stored event, every run, was most of an incremental run. Resuming payments also
reads their amount and currency from here, so it parses no payload at all. Stored events
never change and only ever get higher `seq` numbers, so each event's keys are parsed once,
the first time a run sees it, into `ledger_cache.event_keys` (one row per stored event).

`ledger_cache.watermark` remembers the last `seq` copied, its chain hash, how many events had
been stored up to it and a hash of the extraction SQL. If the store no longer agrees (rebuilt
or replaced) or the SQL changed, the copies are dropped and rebuilt from the first event:
they are a cache, never a source of truth (the precedent is `recon.items`). The columns are
exactly the expressions the scoping used to read from the payload, null handling included:
`payment_key` is `ledger_scope`'s key (a payment without id is `chr(0)`), `invoice_id` is
the raw value (the invoice key coalesces it where it is a key), `amount_minor` is
`try_cast(payload->>'amount_minor' as bigint)` as the payment fold reads it.

The copies also hold every payload field a journal fact is built from (`journal._FACT_SQL`,
`fx_items`) and the event's lineage, so that posting reads typed columns of the events it
re-posts instead of their payloads: parsing the payloads of each chunk's facts again was
~17 s of a 1M-payment day's ledger. And the invoice fold's (a due date, a cash application's
applied and overpaid amounts), so that a run folds its invoices without parsing either.
"""

from __future__ import annotations

import hashlib

import duckdb

from billing_pipeline.warehouse.event_copies import refresh_copies

# What a run reads: the copies of the events up to the last one it folds (`refresh`). A run
# that catches up in chunks (`ledger.rebuild_ledger`) sees the store as it stood at each
# chunk's end, exactly as if it had run then.
KEYS = "ledger_event_keys"

# What the journal's facts read (`journal._FACT_SQL`, `fx_items`) besides the keys, and the
# event's lineage: (name, type). A bigint is `try_cast` of the payload's string, as the facts
# read it.
FACT_FIELDS = (
    ("line_type", "varchar"), ("payout_ref", "varchar"), ("original_currency", "varchar"),
    ("gross_minor", "bigint"), ("original_minor", "bigint"), ("net_minor", "bigint"),
    ("fee_minor", "bigint"), ("account_id", "varchar"), ("tx_code", "varchar"),
    ("holding_account", "varchar"), ("bank_line_key", "varchar"),
)  # fmt: skip
# What the invoice fold reads besides those (`lifecycles.INVOICE_TYPED`): a due date is
# `try_cast` of the payload's string, as the fold reads it.
FOLD_FIELDS = (("due_date", "date"), ("applied_minor", "bigint"), ("overpaid_minor", "bigint"))
# What the dbt marts read (`fx.exposure_by_settlement`: a settlement line's available-on date),
# so that a build does not read and parse every settlement line's payload again. A date is
# `try_cast` of the payload's string, as the mart read it.
MART_FIELDS = (("available_on", "date"),)
LINEAGE = (("business_date", "date"), ("partition_date", "date"), ("source_line", "bigint"),
           ("file_id", "varchar"))  # fmt: skip
_ADDED_COLUMNS = "\n".join(
    f"alter table ledger_cache.event_keys add column if not exists {name} {kind};"
    for name, kind in (*FACT_FIELDS, *FOLD_FIELDS, *MART_FIELDS, *LINEAGE)
)

DDL = f"""
create schema if not exists ledger_cache;
create table if not exists ledger_cache.watermark (
    seq bigint not null, chain_hash varchar not null, events bigint not null,
    extraction varchar not null);
create table if not exists ledger_cache.event_keys (
    seq bigint not null, idempotency_key varchar not null, event_type varchar not null,
    occurred_at timestamptz not null, payment_key varchar not null, invoice_id varchar,
    customer_id varchar, processor varchar, processor_ref varchar,
    amount_minor bigint, currency varchar);
-- Copies made before the payment fold read them (`ledger_resume`) gain these here; the
-- extraction hash changed with them, so they are refilled from the first event.
alter table ledger_cache.event_keys add column if not exists amount_minor bigint;
alter table ledger_cache.event_keys add column if not exists currency varchar;
-- The facts', the invoice fold's and the marts' fields and the lineage, added the same way.
{_ADDED_COLUMNS}
"""

# Each payload is parsed once: json_extract_string with a list of paths gives the same
# strings as `payload->>'name'` for each of them.
_KEY_PATHS = ["payment_id", "invoice_id", "customer_id", "processor", "processor_ref",
              "amount_minor", "currency"]  # fmt: skip
_TYPED = (*FACT_FIELDS, *FOLD_FIELDS, *MART_FIELDS)
_PATHS = [*_KEY_PATHS, *(name for name, _ in _TYPED)]
_FACT_VALUES = ", ".join(
    (f"f[{i}]" if kind == "varchar" else f"try_cast(f[{i}] as {kind})") + f" as {name}"
    for i, (name, kind) in enumerate(_TYPED, start=len(_KEY_PATHS) + 1)
)
_LINEAGE_NAMES = ", ".join(name for name, _ in LINEAGE)
INSERT = f"""
insert into ledger_cache.event_keys by name
select seq, idempotency_key, event_type, occurred_at, coalesce(f[1], chr(0)) as payment_key,
       f[2] as invoice_id, f[3] as customer_id, f[4] as processor, f[5] as processor_ref,
       try_cast(f[6] as bigint) as amount_minor, f[7] as currency, {_FACT_VALUES},
       {_LINEAGE_NAMES}
from (select seq, idempotency_key, event_type, occurred_at,
             json_extract_string(payload, {_PATHS!r}) as f, {_LINEAGE_NAMES}
      from store.events where seq > $since)
"""
# Copies made by other extraction SQL (an older release) are rebuilt, not mixed with new ones.
EXTRACTION = hashlib.sha256((DDL + INSERT).encode()).hexdigest()[:16]


def refresh(conn: duckdb.DuckDBPyConnection, upto_seq: int | None = None) -> int:
    """Copy the keys of the events stored since the last run; returns how many. `KEYS` then
    reads those up to `upto_seq` (all of them without it)."""
    conn.execute(DDL)
    copied = refresh_copies(conn, "ledger_cache", ("event_keys",), (INSERT,), EXTRACTION)
    view = f"create or replace temp view {KEYS} as from ledger_cache.event_keys"
    # A view takes no parameters: the bound is written into it, an integer formatted as one.
    conn.execute(view if upto_seq is None else f"{view} where seq <= {int(upto_seq)}")
    return copied
