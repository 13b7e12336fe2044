"""Time the event-store append of one staged day onto the store as it stood before it, in place.

python benchmarks/profiles/store_append.py WAREHOUSE DAY [REPEATS [TOP]]

Inside a transaction that is rolled back (the append's own commits become no-ops), the day's
events (and receipts) are deleted from a landed warehouse and the day is appended again, so
every candidate is new, as in the run that first stored it; nothing is copied and nothing
changes. Prints wall seconds, the events appended and the chain's last hash (equal across
code versions when they chain alike). To compare two versions, run this alternately with each
checkout on `PYTHONPATH` (how session 9 measured the candidates' sort and the chain links:
benchmarks/RESULTS.md). With TOP, the TOP slowest statements of the last repeat are printed
too (`timed_connection`).
"""

import sys
import time
from datetime import UTC, date, datetime

import duckdb

from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline.warehouse import event_store
from billing_pipeline.warehouse.tables import use_utc

NOW = datetime(2026, 12, 1, tzinfo=UTC)  # fixed: the day's rows do not depend on the clock


def append_again(
    conn: duckdb.DuckDBPyConnection, day: date, timed: TimedConnection | None = None
) -> tuple[float, int, str]:
    # The append commits window by window; here its commits are no-ops, so that the rollback
    # below undoes all of it.
    timed = timed or TimedConnection(conn, own_transactions=False)
    (cut,) = conn.execute(
        "select min(seq) - 1 from store.events where partition_date = ? and source != 'recon'",
        [day],
    ).fetchall()[0]
    started = time.perf_counter()
    params = {"tz": "UTC", "day": day}
    event_store.collect_candidates(timed, event_store._CANDIDATES, params)
    collected = time.perf_counter() - started
    conn.execute("begin transaction")
    try:
        conn.execute("delete from store.events where seq > ?", [cut])
        conn.execute("delete from store.event_receipts where partition_date >= ?", [day])
        started = time.perf_counter()
        report = event_store._append(
            timed, event_store._CANDIDATES, params, day, "staged", "bench", NOW
        )
        seconds = collected + time.perf_counter() - started
        (last,) = conn.execute(
            "select chain_hash from store.events order by seq desc limit 1"
        ).fetchall()[0]
    finally:
        conn.execute("rollback")
    return seconds, report.appended, last


if __name__ == "__main__":
    connection = duckdb.connect(sys.argv[1])
    use_utc(connection)
    top = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    for _ in range(int(sys.argv[3]) if len(sys.argv) > 3 else 1):
        statements = TimedConnection(connection, own_transactions=False) if top else None
        wall, appended, chain_end = append_again(
            connection, date.fromisoformat(sys.argv[2]), statements
        )
        print(f"append {wall:.2f} s, {appended} events, chain ends {chain_end}")
    if statements:
        print(statements.report(top))
