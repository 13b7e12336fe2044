"""Replay the reconciliation asset's work for a warehouse's latest run date, statement by
statement, as it was when that date's run started, inside a transaction that is rolled back:
the warehouse is left as it was, so no copy of a 10 GB file is needed.

    python benchmarks/profiles/recon_step.py <billing.duckdb> [TOP]

Rewinds (in the transaction) what the latest date's run wrote: its recon slice and run mark,
its match spans, its decision events and receipts, and the typed event copies beyond the
previous run's watermark. Then runs `reconcile` and `append_decisions` with every statement
timed (the engine's own `begin`/`commit` become no-ops so that all of it can be rolled back)
and prints the phases, a digest of what it wrote (rows and an order-free hash per table) and
the TOP (default 30) slowest statements. Compare two checkouts by
running it with each on `PYTHONPATH`, one after the other, on the same warehouse.
"""

import sys
from datetime import UTC, datetime

import duckdb

from benchmarks.profiles.digest import digest
from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline import settings
from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.warehouse.event_store import append_decisions
from billing_pipeline.warehouse.tables import use_utc

_SLICE_TABLES = ("discrepancies", "decisions", "metrics", "resolutions_log", "run_marks")


def rewind(conn: duckdb.DuckDBPyConnection):
    """Undo the latest run date's recon writes (inside the open transaction)."""
    last, upto = conn.execute(
        "select as_of, upto_seq from recon_store.run_marks order by as_of desc limit 1"
    ).fetchone()
    previous = conn.execute(
        "select as_of, upto_seq from recon_store.run_marks where as_of < ? "
        "order by as_of desc limit 1",
        [last],
    ).fetchone()
    for table in (*_SLICE_TABLES, "match_slices"):
        conn.execute(f"delete from recon_store.{table} where as_of = ?", [last])
    conn.execute("delete from recon_store.match_spans where from_as_of = ?", [last])
    if previous:
        # The first write of a new latest date closed the spans it did not hold at the
        # previous date; before it they were open.
        conn.execute(
            "update recon_store.match_spans set to_as_of = null where to_as_of = ?", [previous[0]]
        )
    conn.execute(
        "delete from store.event_receipts where partition_date = ? and source = 'recon'", [last]
    )
    conn.execute("delete from store.events where seq > ?", [upto])
    copied_upto = previous[1] if previous else 0
    tables = conn.execute(
        "select table_name from duckdb_tables() "
        "where schema_name = 'recon_cache' and table_name != 'watermark'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(f"delete from recon_cache.{table} where seq > ?", [copied_upto])
    conn.execute(
        "update recon_cache.watermark set seq = $s, "
        "chain_hash = (select chain_hash from store.events where seq = $s), "
        "events = (select count(*) from store.events where seq <= $s)",
        {"s": copied_upto},
    )
    return last


def outputs_digest(conn: duckdb.DuckDBPyConnection, as_of) -> dict[str, tuple[int, int]]:
    """Rows and an order-free hash of what the date's run wrote, without the run id: equal
    digests from two checkouts mean they wrote the same rows."""
    digests = {
        table: digest(
            conn,
            f"select * exclude (run_id) from recon_store.{table} where as_of = $as_of",
            {"as_of": as_of},
        )
        for table in ("decisions", "discrepancies", "metrics", "resolutions_log")
    }
    digests["open_match_spans"] = digest(
        conn, "select match_key, from_as_of from recon_store.match_spans where to_as_of is null"
    )
    # The decisions as the event store appended them: chained, with their file and line.
    digests["appended_events"] = digest(
        conn,
        "select * exclude (recorded_at, run_id) from store.events "
        "where partition_date = $as_of and source = 'recon'",
        {"as_of": as_of},
    )
    # Match facts are kept across dates; they hold each match's evidence.
    digests["match_facts"] = digest(conn, "select * from recon_store.match_facts")
    return digests


def main(warehouse: str, top: int) -> None:
    conn = duckdb.connect(warehouse)
    use_utc(conn)
    conn.execute("begin transaction")
    try:
        as_of = rewind(conn)
        timed = TimedConnection(conn, own_transactions=False)
        rules = load_rules(settings.recon_rules_path())
        timed.phase = "reconcile"
        reconcile(timed, as_of, rules, "replay", settings.resolutions_dir())
        timed.phase = "append_decisions"
        report = append_decisions(timed, as_of, "replay", datetime.now(UTC))
        digests = outputs_digest(conn, as_of)
    finally:
        conn.execute("rollback")
    print(as_of, report)
    print("outputs:", digests)
    print(timed.report(top))


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 30)
