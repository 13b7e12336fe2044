"""Which aggregates and facts an incremental ledger run must redo, as temp tables.

A run starts from a set of payments and invoices (those named by events appended since the
last run, or a sample for the rebuild check) and closes it: an invoice's card payments and a
payment's invoices belong together, because a capture pays its invoice inside the invoice
fold. Every aggregate in the closed set is refolded from its whole history, so a late event
lands where it belongs whatever its occurred_at.

Then the facts to re-post (`ledger_dirty_events`): the new events, every event of a refolded
aggregate (acceptance and the receivable split can change), payment moves whose open item
can change (a new settlement line or payment move on the same processor reference shifts the
n-th-to-n-th match in `fx_items`), and facts held back by a posting problem (a rates file
may have arrived since). `ledger_fact_scope` is what `journal._FACT_SQL` reads for them:
those events plus the settlement lines and payment moves their items are matched against.
"""

from __future__ import annotations

import duckdb

from billing_pipeline.warehouse.lifecycles import INVOICE_SCOPE, PAYMENT_SCOPE

PAYMENT_MOVES = (
    "('payment.captured', 'payment.refunded', 'payment.dispute_opened', 'payment.dispute_won')"
)
_PAYMENT_KEY = "coalesce(payload->>'payment_id', chr(0))"
_INVOICE_KEY = "coalesce(payload->>'invoice_id', chr(0))"
_INVOICE_EVENT = "(event_type like 'invoice.%' or event_type = 'recon.cash_applied')"
# The ledger's quarantine rows carry the event's file, line and payload, not its key.
LEDGER_QUARANTINE_EVENTS = """
select e.idempotency_key as event_id, q.reason
from ingest.quarantine q
join store.events e
  on q.file_id = e.file_id and q.line_no is not distinct from e.source_line
 and q.raw_record = e.payload
where q.stage = 'ledger'
"""


def scope_new_events(conn: duckdb.DuckDBPyConnection, since_seq: int, upto_seq: int) -> None:
    """Start from the aggregates named by events appended in (`since_seq`, `upto_seq`]."""
    conn.execute(
        "create or replace temp table ledger_new_events as "
        "select idempotency_key, event_type, payload from store.events "
        "where seq > $since and seq <= $upto",
        {"since": since_seq, "upto": upto_seq},
    )
    conn.execute(
        f"create or replace temp table {PAYMENT_SCOPE} as select distinct {_PAYMENT_KEY} as key "
        "from ledger_new_events where event_type like 'payment.%'"
    )
    conn.execute(
        f"create or replace temp table {INVOICE_SCOPE} as select distinct {_INVOICE_KEY} as key "
        f"from ledger_new_events where {_INVOICE_EVENT}"
    )
    _close(conn)


def scope_sample(conn: duckdb.DuckDBPyConnection, bucket: int, buckets: int) -> None:
    """Start from a deterministic sample: payments and invoices whose key hashes to `bucket`."""
    conn.execute(
        "create or replace temp table ledger_new_events as "
        "select idempotency_key, event_type, payload from store.events limit 0"
    )
    for table, key, where in (
        (PAYMENT_SCOPE, _PAYMENT_KEY, "event_type like 'payment.%'"),
        (INVOICE_SCOPE, _INVOICE_KEY, _INVOICE_EVENT),
    ):
        conn.execute(
            f"create or replace temp table {table} as select distinct {key} as key "
            f"from store.events where {where} and hash({key}) % $n = $bucket",
            {"n": buckets, "bucket": bucket},
        )
    _close(conn)


def _close(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "create or replace temp table ledger_links as "
        f"select distinct {_PAYMENT_KEY} as payment_key, payload->>'invoice_id' as invoice_id "
        "from store.events where event_type like 'payment.%' and payload->>'invoice_id' is not null"
    )
    while True:
        (invoices,) = conn.execute(
            f"insert into {INVOICE_SCOPE} select distinct invoice_id from ledger_links "
            f"where payment_key in (select key from {PAYMENT_SCOPE}) "
            f"and invoice_id not in (select key from {INVOICE_SCOPE})"
        ).fetchall()[0]
        (payments,) = conn.execute(
            f"insert into {PAYMENT_SCOPE} select distinct payment_key from ledger_links "
            f"where invoice_id in (select key from {INVOICE_SCOPE}) "
            f"and payment_key not in (select key from {PAYMENT_SCOPE})"
        ).fetchall()[0]
        if not invoices and not payments:
            break
    conn.execute(
        f"""
        create or replace temp table ledger_refold_events as
        select idempotency_key as event_id from store.events
        where event_type like 'payment.%' and {_PAYMENT_KEY} in (select key from {PAYMENT_SCOPE})
        union
        select idempotency_key from store.events
        where {_INVOICE_EVENT} and {_INVOICE_KEY} in (select key from {INVOICE_SCOPE})
        """
    )
    conn.execute(
        f"""
        create or replace temp table ledger_dirty_events as
        with moved as (
            select distinct payload->>'processor' as processor,
                   payload->>'processor_ref' as processor_ref
            from ledger_new_events
            where event_type in {PAYMENT_MOVES} or event_type like 'settlement.%'
        )
        select event_id from ledger_refold_events
        union
        select idempotency_key from ledger_new_events
        union
        select e.idempotency_key from store.events e
        join moved m on m.processor = e.payload->>'processor'
                    and m.processor_ref = e.payload->>'processor_ref'
        where e.event_type in {PAYMENT_MOVES}
        union
        select event_id from ({LEDGER_QUARANTINE_EVENTS}) where reason like 'posting:%'
        """
    )
    conn.execute(
        f"""
        create or replace temp table ledger_fact_scope as
        with dirty as (
            select * from store.events
            where idempotency_key in (select event_id from ledger_dirty_events)
        ),
        keys as (
            select distinct payload->>'processor' as processor,
                   payload->>'processor_ref' as processor_ref
            from dirty where event_type in {PAYMENT_MOVES}
        )
        select * from dirty
        union all
        select e.* from store.events e
        join keys k on k.processor = e.payload->>'processor'
                   and k.processor_ref = e.payload->>'processor_ref'
        where (e.event_type in {PAYMENT_MOVES} or e.event_type like 'settlement.%')
          and e.idempotency_key not in (select event_id from ledger_dirty_events)
        """
    )
