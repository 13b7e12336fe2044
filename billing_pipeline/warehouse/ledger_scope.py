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
those of their events it reads (`journal.FACT_EVENTS_SQL`) plus the settlement lines and
payment moves their items are matched against, as typed copies (`ledger_keys`), no payload.
"""

from __future__ import annotations

import duckdb

from billing_pipeline.warehouse import ledger_keys
from billing_pipeline.warehouse.journal import FACT_EVENTS_SQL
from billing_pipeline.warehouse.ledger_keys import KEYS
from billing_pipeline.warehouse.lifecycles import (
    INVOICE_RESUME,
    INVOICE_SCOPE,
    NO_ID_KEYS,
    PAYMENT_RESUME,
    PAYMENT_SCOPE,
)

PAYMENT_MOVES = (
    "('payment.captured', 'payment.refunded', 'payment.dispute_opened', 'payment.dispute_won')"
)
# Keys are read from `ledger_cache.event_keys` (`ledger_keys`), not the payloads: the same
# values, parsed once per event instead of once per run over the whole history.
_PAYMENT_KEY = "payment_key"  # coalesce(payload->>'payment_id', chr(0))
_INVOICE_KEY = "coalesce(invoice_id, chr(0))"
_INVOICE_EVENT = "(event_type like 'invoice.%' or event_type = 'recon.cash_applied')"
# The ledger's quarantine rows carry the event's file, line and payload, not its key or seq.
# Matched against the whole store, that reads every stored event's file and line: 1-3 s a
# chunk at 12M events. `ledger_store.quarantined_events` names the seqs of the events they
# are about (written and deleted with them, `ledger_writes`): a run reads that index, with
# each event's key from the copies, and fetches the rows themselves (`quarantine_rows`) only
# for the few it rewrites. Fetching every indexed event's payload each chunk was ~1 s of it.
_QUARANTINE_MATCH = """
with e as materialized (__EVENTS__)
select e.idempotency_key as event_id, e.seq, q.reason, q.file_id, q.line_no, q.raw_record
from ingest.quarantine q
join e on q.file_id = e.file_id and q.line_no is not distinct from e.source_line
      and q.raw_record = e.payload
where q.stage = 'ledger' and (q.reason like 'lifecycle:%' or q.reason like 'posting:%')
"""
LEDGER_QUARANTINED = f"""
select k.idempotency_key as event_id, i.seq, i.reason
from ledger_store.quarantined_events i join {KEYS} k using (seq)
"""
# The same rows found the slow way: what fills the index of a warehouse that predates it.
LEDGER_QUARANTINE_EVENTS_BY_CONTENT = _QUARANTINE_MATCH.replace("__EVENTS__", "from store.events")


def quarantine_rows(seqs: str) -> str:
    """The ledger's quarantine rows about the stored events whose seqs `seqs` (a relation
    with a column `seq`) lists, with their events' keys and seqs."""
    # Materialized: left to itself, the planner joins the whole store to the quarantine first.
    events = f"from store.events where seq in (select seq from {seqs})"
    return _QUARANTINE_MATCH.replace("__EVENTS__", events)


def scope_new_events(conn: duckdb.DuckDBPyConnection, since_seq: int, upto_seq: int) -> None:
    """Start from the aggregates named by events appended in (`since_seq`, `upto_seq`]; the
    run sees no event after `upto_seq` (every event it reads is picked through `KEYS`)."""
    ledger_keys.refresh(conn, upto_seq)
    conn.execute(
        "create or replace temp table ledger_new_events as "
        f"select seq, idempotency_key, event_type, {_PAYMENT_KEY} as payment_key, invoice_id, "
        f"processor, processor_ref from {KEYS} where seq > $since and seq <= $upto",
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
    _link(conn)
    _close(conn, PAYMENT_SCOPE, INVOICE_SCOPE)
    _split_resumable(conn, since_seq, upto_seq)
    _dirty(conn)


def scope_sample(conn: duckdb.DuckDBPyConnection, bucket: int, buckets: int, upto_seq: int) -> None:
    """Start from a deterministic sample: payments and invoices whose key hashes to `bucket`,
    as the ledger folded them (events up to `upto_seq`)."""
    ledger_keys.refresh(conn, upto_seq)
    conn.execute(
        "create or replace temp table ledger_new_events as "
        f"select seq, idempotency_key, event_type, {_PAYMENT_KEY} as payment_key, invoice_id, "
        f"processor, processor_ref from {KEYS} limit 0"
    )
    for table, key, where in (
        (PAYMENT_SCOPE, _PAYMENT_KEY, "event_type like 'payment.%'"),
        (INVOICE_SCOPE, _INVOICE_KEY, _INVOICE_EVENT),
    ):
        # The parameters are typed like hash(): untyped, DuckDB takes the modulo of every key's
        # hash as a HUGEINT, the same buckets ten times slower (2.3 s against 0.23 s over the
        # 1M-payment world's 12.5M keys).
        conn.execute(
            f"create or replace temp table {table} as select distinct {key} as key "
            f"from {KEYS} where {where} and hash({key}) % $n::ubigint = $bucket::ubigint",
            {"n": buckets, "bucket": bucket},
        )
    _link(conn)
    _close(conn, PAYMENT_SCOPE, INVOICE_SCOPE)
    for table in (PAYMENT_RESUME, INVOICE_RESUME):  # a sample is always refolded whole
        conn.execute(f"create or replace temp table {table} (key varchar)")
    _dirty(conn)


def _link(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(
        "create or replace temp table ledger_links as "
        f"select distinct {_PAYMENT_KEY} as payment_key, invoice_id from {KEYS} "
        "where event_type like 'payment.%' and invoice_id is not null"
    )


def _close(conn: duckdb.DuckDBPyConnection, payment_table: str, invoice_table: str) -> None:
    """Add to each table the keys linked to the other's until nothing changes."""
    while True:
        (invoices,) = conn.execute(
            f"insert into {invoice_table} select distinct invoice_id from ledger_links "
            f"where payment_key in (select key from {payment_table}) "
            f"and invoice_id not in (select key from {invoice_table})"
        ).fetchall()[0]
        (payments,) = conn.execute(
            f"insert into {payment_table} select distinct payment_key from ledger_links "
            f"where invoice_id in (select key from {invoice_table}) "
            f"and payment_key not in (select key from {payment_table})"
        ).fetchall()[0]
        if not invoices and not payments:
            break


def _split_resumable(conn: duckdb.DuckDBPyConnection, since: int, upto: int) -> None:
    """Of the scoped aggregates, keep in the scope tables (refold whole) those whose new events
    do not all sort after their old ones, or whose new events name an invoice or customer the
    stored payment lacked, with everything linked to them; the rest resume (`lifecycles`).
    Payments without an id (no payment_id, or an empty one) are always refolded whole: a
    full rebuild refuses each of their events as "payment_id missing", and so does only the
    one-by-one fold of their whole history (`lifecycles`), not a resumed frame fold."""
    window = {"since": since, "upto": upto}
    order = "struct_pack(a := occurred_at, b := idempotency_key)"
    per_key = """
        select key, max(o) filter (where not new) as old_last,
               min(o) filter (where new) as new_first{extra}
        from ev group by key
    """
    out_of_order = "(new_first is not null and old_last is not null and new_first <= old_last)"
    conn.execute(f"create or replace temp table ledger_touched_payments as from {PAYMENT_SCOPE}")
    conn.execute(f"create or replace temp table ledger_touched_invoices as from {INVOICE_SCOPE}")
    conn.execute(
        f"""
        create or replace temp table {PAYMENT_SCOPE} as
        with ev as (
            select {_PAYMENT_KEY} as key, {order} as o, seq > $since as new,
                   invoice_id, customer_id
            from {KEYS}
            where event_type like 'payment.%' and seq <= $upto
              and {_PAYMENT_KEY} in (select key from ledger_touched_payments)
        ),
        per as ({
            per_key.format(
                extra=", bool_or(new and invoice_id is not null) as new_invoice, "
                "bool_or(new and customer_id is not null) as new_customer"
            )
        })
        select per.key from per left join ledger_store.payment_states s on s.payment_id = per.key
        where per.key in {NO_ID_KEYS} or {out_of_order}
           or (old_last is not null and new_invoice and s.invoice_id is null)
           or (old_last is not null and new_customer and s.customer_id is null)
        """,
        window,
    )
    conn.execute(
        f"""
        create or replace temp table {INVOICE_SCOPE} as
        with ev as (
            select {_INVOICE_KEY} as key, {order} as o, seq > $since as new
            from {KEYS}
            where {_INVOICE_EVENT} and seq <= $upto
              and {_INVOICE_KEY} in (select key from ledger_touched_invoices)
            union all
            select l.invoice_id, {order}, seq > $since
            from {KEYS} e join ledger_links l on l.payment_key = e.{_PAYMENT_KEY}
            where event_type = 'payment.captured' and seq <= $upto
              and l.invoice_id in (select key from ledger_touched_invoices)
        ),
        per as ({per_key.format(extra="")})
        select key from per where key = chr(0) or {out_of_order}
        """,
        window,
    )
    _close(conn, PAYMENT_SCOPE, INVOICE_SCOPE)
    for resume, touched, scope in (
        (PAYMENT_RESUME, "ledger_touched_payments", PAYMENT_SCOPE),
        (INVOICE_RESUME, "ledger_touched_invoices", INVOICE_SCOPE),
    ):
        conn.execute(
            f"create or replace temp table {resume} as select key from {touched} "
            f"where key not in (select key from {scope})"
        )


def _dirty(conn: duckdb.DuckDBPyConnection) -> None:
    """The events to re-post, with their seq: events are fetched from the store by seq, which
    its zone maps answer, not by their string keys, which means reading every stored key.
    The ledger's quarantine rows are listed once, from their index (`ledger_quarantined`):
    the write swaps them from there."""
    conn.execute(f"create or replace temp table ledger_quarantined as {LEDGER_QUARANTINED}")
    # Each dirty event carries its type and processor keys, so that the fact scope below
    # finds their settlement lines and payment moves in one pass over the copies.
    carried = "seq, idempotency_key as event_id, event_type, processor, processor_ref"
    # Events are picked by their keys first and their carried columns read by seq after:
    # selecting the columns with the keys decompressed them for every copy, which took 2.5
    # times as long (0.65 s against 0.27 s for 6k events among 18.6M at a backfill's end),
    # and the dirty events below 1.6-1.8 s against 1.1 s (2.3M, 500k of them by reference).
    in_payments = f"{_PAYMENT_KEY} in (select key from {PAYMENT_SCOPE})"
    conn.execute(
        f"""
        create or replace temp table ledger_refold_events as
        select {carried} from {KEYS} where seq in (
            select seq from {KEYS} where event_type like 'payment.%' and {in_payments}
            union all
            select seq from {KEYS}
            where {_INVOICE_EVENT} and {_INVOICE_KEY} in (select key from {INVOICE_SCOPE})
        )
        """
    )
    conn.execute(
        f"""
        create or replace temp table ledger_dirty_events as
        with moved as (
            select distinct processor, processor_ref from ledger_new_events
            where event_type in {PAYMENT_MOVES} or event_type like 'settlement.%'
        )
        from ledger_refold_events
        union
        select {carried} from ledger_new_events
        union
        select {carried} from {KEYS} where seq in (
            select seq from {KEYS} semi join moved using (processor, processor_ref)
            where event_type in {PAYMENT_MOVES}
        )
        union
        select {carried} from {KEYS}
        where seq in (select seq from ledger_quarantined where reason like 'posting:%')
        """
    )
    # The dirty events' facts, plus the settlement lines and payment moves their items are
    # matched against (same processor and reference as a dirty payment move). Picked by seq
    # over the narrow columns first, then fetched whole: joining every copy's whole row to
    # the references took twice as long (1.2-2.1 s against 1.0-1.1 s a 1.3M-event chunk).
    conn.execute(
        f"""
        create or replace temp table ledger_fact_scope as
        with keys as (
            select distinct processor, processor_ref from ledger_dirty_events
            where event_type in {PAYMENT_MOVES}
        ),
        picked as (
            select seq from ledger_dirty_events where {FACT_EVENTS_SQL}
            union
            select seq from {KEYS} semi join keys using (processor, processor_ref)
            where event_type in {PAYMENT_MOVES} or event_type like 'settlement.%'
        )
        select e.* from {KEYS} e semi join picked using (seq)
        """
    )
