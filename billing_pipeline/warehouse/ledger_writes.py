"""Writing the ledger projection: the whole of it, or a delta (`ledger_delta`) in place.

Both run inside the caller's transaction. A delta swaps exactly the rows its scope
(`ledger_scope`) determines: states of the scoped aggregates, whole histories of those
refolded and the new steps of those resumed, the dirty facts' entries, the realized FX of
the items they touch, every revaluation, and the quarantine rows those produce. The ledger's
quarantine rows keep the quarantined_at and run_id of the run that (re)wrote them.
"""

from __future__ import annotations

import operator
from datetime import datetime

import polars as pl
import pyarrow as pa

from billing_pipeline.warehouse import ledger_watermark as watermark
from billing_pipeline.warehouse.ledger_delta import REVALUATION_TYPES, Delta
from billing_pipeline.warehouse.ledger_scope import (
    LEDGER_QUARANTINE_EVENTS_BY_CONTENT,
    quarantine_rows,
)
from billing_pipeline.warehouse.lifecycles import Folded, InvoiceStep


def rejections_frame(folded: Folded) -> pl.DataFrame:
    return pl.DataFrame(
        [(r.event_id, f"lifecycle: {r.aggregate}: {r.reason}") for r in folded.rejections],
        schema={"event_id": pl.Utf8, "reason": pl.Utf8},
        orient="row",
    )


def rows_frame(rows: list, columns: list[str]) -> pl.DataFrame | None:
    if not rows:
        return None
    # Column by column, each read in one C-level pass: several times faster than row tuples
    # (or transposing them) for 100k+ rows.
    return pl.DataFrame(
        [_series(name, list(map(operator.attrgetter(name), rows))) for name in columns]
    )


def aggregate_frame(folded: Folded, attribute: str, columns: list[str]) -> pl.DataFrame | None:
    """The rows of one `Folded` list, with those it holds as frames."""
    frames = {
        "payment_states": folded.payment_state_frames,
        "payment_history": folded.payment_history_frames,
        "invoice_states": folded.invoice_state_frames,
        "invoice_history": folded.invoice_history_frames,
    }[attribute]
    parts = [rows_frame(getattr(folded, attribute), columns), *(f.select(columns) for f in frames)]
    parts = [part for part in parts if part is not None and part.height]
    return pl.concat(parts, how="vertical_relaxed") if parts else None


def _series(name: str, values: list) -> pl.Series:
    first = next((value for value in values if value is not None), None)
    if isinstance(first, datetime) and first.tzinfo is not None:
        # polars converts zone-aware datetimes one by one in Python, pyarrow in C++ (3x
        # faster); the instants and the dtype, Datetime("us", "UTC"), are the same.
        return pl.Series(name, pa.array(values, type=pa.timestamp("us", tz="UTC")))
    return pl.Series(name, values, strict=False)


_PAYMENT_COLUMNS = [
    "payment_id", "state", "state_since", "currency", "amount_authorized_minor",
    "amount_captured_minor", "amount_refunded_minor", "amount_disputed_minor",
    "state_before_dispute", "processor", "processor_ref", "invoice_id", "customer_id",
]  # fmt: skip
_INVOICE_COLUMNS = [
    "invoice_id", "customer_id", "currency", "amount_minor", "credited_minor", "paid_minor",
    "written_off_minor", "amount_due_minor", "customer_credit_minor", "state", "due_date",
    "sent_at", "state_since",
]  # fmt: skip
_PAYMENT_HISTORY = ["payment_id", "from_state", "to_state", "event_id", "occurred_at"]
_INVOICE_HISTORY = list(InvoiceStep._fields)
# (table, Folded attribute, columns, key column, scope table)
AGGREGATE_TABLES = (
    ("payment_states", "payment_states", _PAYMENT_COLUMNS, "payment_id", "ledger_scope_payments"),
    ("invoice_states", "invoice_states", _INVOICE_COLUMNS, "invoice_id", "ledger_scope_invoices"),
    ("payment_history", "payment_history", _PAYMENT_HISTORY, "payment_id",
     "ledger_scope_payments"),
    ("invoice_history", "invoice_history", _INVOICE_HISTORY, "invoice_id",
     "ledger_scope_invoices"),
)  # fmt: skip


def clear_all(conn) -> None:
    """An empty ledger with no build state: what a full write and a rebuild in chunks start
    from (a stop before the first chunk is written leaves a ledger the next run rebuilds)."""
    for table, _, _, _, _ in AGGREGATE_TABLES:
        conn.execute(f"delete from ledger_store.{table}")
    conn.execute("delete from ledger_store.journal_lines")
    conn.execute(
        "delete from ingest.quarantine where stage = 'ledger' "
        "and (reason like 'lifecycle:%' or reason like 'posting:%')"
    )
    conn.execute("delete from ledger_store.build_state")
    conn.execute("delete from ledger_store.quarantined_events")


def index_quarantine(conn) -> None:
    """Fill the just created `ledger_store.quarantined_events` from the quarantine rows as they
    stand (a ledger written before the index existed)."""
    has_quarantine = conn.execute(
        "select count(*) from duckdb_tables() "
        "where schema_name = 'ingest' and table_name = 'quarantine'"
    ).fetchall()[0][0]
    if has_quarantine:
        conn.execute(
            "insert into ledger_store.quarantined_events "
            f"select seq, reason from ({LEDGER_QUARANTINE_EVENTS_BY_CONTENT})"
        )


def write_all(conn, folded, lines: pl.DataFrame, quarantine: pl.DataFrame, run_id, now) -> None:
    # The ledger's quarantine rows are a projection too: replaced whole with the rest.
    clear_all(conn)
    for table, attribute, columns, _, _ in AGGREGATE_TABLES:
        _insert(conn, f"ledger_store.{table}", aggregate_frame(folded, attribute, columns))
    _insert(conn, "ledger_store.journal_lines", lines)
    _quarantine(conn, quarantine, run_id, now)


def write_delta(conn, delta: Delta, run_id, now, plan, stamp) -> None:
    """Swap the scoped rows for the delta's: aggregates, entries, realized FX of the touched
    items, every revaluation (when the delta recomputed them), and the quarantine rows those
    produced."""
    # Keys to delete by: no order needed (sorting 200k+ ids cost half a second).
    resumed = {
        "payment_id": pl.DataFrame({"key": list(delta.folded.resumed_payments)}, {"key": pl.Utf8}),
        "invoice_id": pl.DataFrame({"key": list(delta.folded.resumed_invoices)}, {"key": pl.Utf8}),
    }
    for table, attribute, columns, key, scope in AGGREGATE_TABLES:
        conn.execute(f"delete from ledger_store.{table} where {key} in (select key from {scope})")
        if table.endswith("_states"):  # a resumed aggregate's history only grows
            conn.register("ledger_resumed", resumed[key].to_arrow())
            try:
                conn.execute(
                    f"delete from ledger_store.{table} "
                    f"where {key} in (select key from ledger_resumed)"
                )
            finally:
                conn.unregister("ledger_resumed")
        _insert(conn, f"ledger_store.{table}", aggregate_frame(delta.folded, attribute, columns))
    conn.register("ledger_delta_items", delta.items.to_arrow())
    try:
        conn.execute(
            "delete from ledger_store.journal_lines where fact_id in ("
            "select fact_id from ledger_store.journal_lines where fact_type = 'fx.realized' "
            "and fx_item in (select fx_item from ledger_delta_items))"
        )
    finally:
        conn.unregister("ledger_delta_items")
    conn.execute(
        "delete from ledger_store.journal_lines where fact_type not like 'fx.%' "
        "and event_id in (select event_id from ledger_dirty_events)"
    )
    revalued = delta.revaluation is not None  # else the stored revaluations stand
    if revalued:
        conn.execute(
            f"delete from ledger_store.journal_lines where fact_type in {REVALUATION_TYPES}"
        )
    for frame in (delta.entries, delta.realized, delta.revaluation):
        _insert(conn, "ledger_store.journal_lines", frame)
    # The quarantine rows this delta rewrites, gone from the quarantine and from its index.
    conn.execute(
        """
        create or replace temp table ledger_requarantined as
        select seq, reason from ledger_quarantined
        where (reason like 'lifecycle:%'
               and event_id in (select event_id from ledger_refold_events))
           or (reason like 'posting:%' and event_id in (select event_id from ledger_dirty_events))
        """
    )
    conn.execute(
        f"""
        delete from ingest.quarantine q using (
            select m.* from ({quarantine_rows("ledger_requarantined")}) m
            semi join ledger_requarantined r on r.seq = m.seq and r.reason = m.reason
        ) l
        where q.stage = 'ledger' and q.reason = l.reason and q.file_id = l.file_id
          and q.line_no is not distinct from l.line_no and q.raw_record = l.raw_record
        """
    )
    conn.execute(
        "delete from ledger_store.quarantined_events i using ledger_requarantined l "
        "where i.seq = l.seq and i.reason = l.reason"
    )
    problems = delta.problems
    if revalued:
        revaluation = "reason like 'posting: no functional amount: fx revaluation%'"
        conn.execute(f"delete from ingest.quarantine where stage = 'ledger' and {revaluation}")
        conn.execute(f"delete from ledger_store.quarantined_events where {revaluation}")
        problems = pl.concat([problems, delta.revaluation_problems])
    quarantine = pl.concat(
        [
            rejections_frame(delta.folded),
            problems.select("event_id", reason=pl.lit("posting: ") + pl.col("reason")),
        ]
    )
    _quarantine(conn, quarantine, run_id, now, events=_stored_events(conn, quarantine))
    watermark.write_state(conn, plan.upto_seq, *stamp, "incremental", now)


def _stored_events(conn, quarantine: pl.DataFrame) -> str:
    """A relation of the stored events `quarantine` names, looked up by seq. Nearly all are
    dirty, whose seqs the scope knows; only the others (a revaluation's last event) are
    looked up by key, which reads every stored key."""
    conn.register("ledger_quarantine_ids", quarantine.select("event_id").unique().to_arrow())
    try:
        conn.execute(
            "create or replace temp table ledger_quarantine_seqs as "
            "select d.event_id, d.seq from ledger_dirty_events d "
            "semi join ledger_quarantine_ids q on q.event_id = d.event_id"
        )
        ((missing,),) = conn.execute(
            "select count(*) from ledger_quarantine_ids where event_id not in "
            "(select event_id from ledger_quarantine_seqs)"
        ).fetchall()
        if missing:
            conn.execute(
                "insert into ledger_quarantine_seqs select idempotency_key, seq "
                "from store.events where idempotency_key in ("
                "select event_id from ledger_quarantine_ids "
                "where event_id not in (select event_id from ledger_quarantine_seqs))"
            )
    finally:
        conn.unregister("ledger_quarantine_ids")
    return "(select * from store.events where seq in (select seq from ledger_quarantine_seqs))"


def _insert(conn, table: str, frame: pl.DataFrame | None) -> None:
    if frame is None or frame.height == 0:
        return
    conn.register("ledger_frame", frame.to_arrow())
    try:
        conn.execute(f"insert into {table} by name select * from ledger_frame")
    finally:
        conn.unregister("ledger_frame")


def _quarantine(conn, quarantine: pl.DataFrame, run_id, now, events="store.events") -> None:
    """Quarantine rows (event_id, reason) with their events' file, line and payload, read
    from `events` (a subset of the store holding all of them, or the store)."""
    if quarantine.height == 0:
        return
    conn.register("ledger_quarantine", quarantine.to_arrow())
    try:
        # Each row joined to its event once: the quarantine and its index are written from it.
        conn.execute(
            "create or replace temp table ledger_quarantine_rows as "
            "select q.reason, e.seq, e.file_id, e.source, e.partition_date, e.source_line, "
            f"e.payload from ledger_quarantine q join {events} e on e.idempotency_key = q.event_id"
        )
    finally:
        conn.unregister("ledger_quarantine")
    conn.execute(
        """
        insert into ingest.quarantine
        select q.file_id, q.source, q.partition_date, coalesce(r.path, q.file_id),
               q.source_line, 'ledger', q.reason, q.payload, $now, $run
        from ledger_quarantine_rows q
        left join (select file_id, min(path) as path from ingest.file_registry
                   where status = 'landed' group by file_id) r on r.file_id = q.file_id
        order by q.seq, q.reason
        """,
        {"now": now, "run": run_id},
    )
    conn.execute(
        "insert into ledger_store.quarantined_events select seq, reason from ledger_quarantine_rows"
    )
