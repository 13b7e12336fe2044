"""Does the stored ledger equal a rebuild from the event store? Checked on a sample, daily.

A full in-memory rebuild costs as much as the ledger run itself, every day. Instead, after an
incremental run, a deterministic sample of aggregates (one hash bucket of payment and invoice
keys, a different bucket each run as the watermark moves) is rebuilt from its whole history,
with everything that depends on it (`ledger_scope`, `ledger_delta`): states, histories, the
entries of their facts, the realized FX of the items those touch, every revaluation. Any row
that differs from the stored one, either way, fails the check. Stale rows left by a run that
missed an aggregate are exactly what a from-scratch rebuild of that aggregate exposes; after
a full rebuild the whole journal is compared (see `ledger.journal_rebuilds_identically`).
"""

from __future__ import annotations

import duckdb
import polars as pl

from billing_pipeline.warehouse.ledger_delta import REVALUATION_TYPES, Delta

# A sample of about this many payments, in at most this many buckets: small ledgers are
# checked whole, a 300k-payment one 1/64th a day.
SAMPLE_PAYMENTS, MAX_BUCKETS = 2_000, 64


def sample_buckets(conn: duckdb.DuckDBPyConnection) -> int:
    (payments,) = conn.execute("select count(*) from ledger_store.payment_states").fetchall()[0]
    return max(1, min(MAX_BUCKETS, payments // SAMPLE_PAYMENTS))


def delta_matches_stored(conn: duckdb.DuckDBPyConnection, delta: Delta, aggregates) -> bool:
    """`aggregates`: (table, rows frame or None, key column, scope table) per aggregate table."""
    for table, frame, key, scope in aggregates:
        stored = f"select * from ledger_store.{table} where {key} in (select key from {scope})"
        if not _same(conn, table, stored, frame):
            return False
    conn.register("ledger_check_items", delta.items.to_arrow())
    try:
        stored = f"""
            select * from ledger_store.journal_lines
            where (fact_type not like 'fx.%'
                   and event_id in (select event_id from ledger_dirty_events))
               or fact_type in {REVALUATION_TYPES}
               or fact_id in (select fact_id from ledger_store.journal_lines
                              where fact_type = 'fx.realized'
                                and fx_item in (select fx_item from ledger_check_items))
        """
        lines = pl.concat([delta.entries, delta.realized, delta.revaluation])
        return _same(conn, "journal_lines", stored, lines)
    finally:
        conn.unregister("ledger_check_items")


def _same(conn, table: str, stored_sql: str, frame: pl.DataFrame | None) -> bool:
    """Multiset equality (`except all` both ways) of the stored rows and `frame`'s."""
    conn.execute(
        f"create or replace temp table ledger_check_rebuilt as "
        f"select * from ledger_store.{table} limit 0"
    )
    if frame is not None and frame.height:
        conn.register("ledger_check_frame", frame.to_arrow())
        try:
            conn.execute(
                "insert into ledger_check_rebuilt by name select * from ledger_check_frame"
            )
        finally:
            conn.unregister("ledger_check_frame")
    # The stored rows are selected once: written into each direction of the comparison, the
    # journal's selection scanned every stored line twice (the 1M-payment world's journal:
    # 1.59-1.67 s, against 1.08 s once; benchmarks/RESULTS.md, session 39).
    conn.execute(f"create or replace temp table ledger_check_stored as {stored_sql}")
    try:
        (differences,) = conn.execute(
            """
            select (select count(*) from (from ledger_check_stored except all
                                          from ledger_check_rebuilt))
                 + (select count(*) from (from ledger_check_rebuilt except all
                                          from ledger_check_stored))
            """
        ).fetchall()[0]
    finally:
        conn.execute("drop table ledger_check_stored")
    return differences == 0
