"""Derived copies of `store.events`, kept up to date from a watermark (`recon.items`,
`warehouse.ledger_keys`).

Stored events never change and only ever get higher `seq` numbers, so a copy of some of their
fields needs only the events stored since the last refresh. `<schema>.watermark` (each caller
creates it with its copies) remembers the last `seq` copied, its chain hash, how many events
had been stored up to it and a hash of the extraction SQL. If the store no longer agrees
(rebuilt or replaced) or the SQL changed, the copies are emptied and rebuilt from the first
event: they are a cache, never a source of truth.
"""

from __future__ import annotations

from collections.abc import Sequence

import duckdb


def refresh_copies(
    conn: duckdb.DuckDBPyConnection,
    schema: str,
    tables: Sequence[str],
    inserts: Sequence[str],
    extraction: str,
) -> int:
    """Run `inserts` (each reading `store.events where seq > $since`) for the events stored
    since the watermark and move it; returns how many events were new.

    One transaction: a run stopped half-way leaves the copies and watermark as they were."""
    conn.execute("begin transaction")
    try:
        copied = _copy_new_events(conn, schema, tables, inserts, extraction)
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
    return copied


def _copy_new_events(conn, schema, tables, inserts, extraction) -> int:
    since = _valid_watermark(conn, schema, tables, extraction)
    # Rows past the watermark would come from a run that stopped before moving it.
    for table in tables:
        conn.execute(f"delete from {schema}.{table} where seq > ?", [since])
    last = conn.execute(
        "select seq, chain_hash from store.events order by seq desc limit 1"
    ).fetchall()
    if not last or last[0][0] <= since:
        return 0
    for insert in inserts:
        conn.execute(insert, {"since": since})
    events, copied = conn.execute(
        "select count(*), count(*) filter (where seq > $since) from store.events "
        "where seq <= $last",
        {"since": since, "last": last[0][0]},
    ).fetchone()
    conn.execute(f"delete from {schema}.watermark")
    conn.execute(
        f"insert into {schema}.watermark values (?, ?, ?, ?)", [*last[0], events, extraction]
    )
    return copied


def _valid_watermark(conn, schema, tables, extraction) -> int:
    """The watermark's seq if the store still holds exactly what it saw, else 0 (rebuild)."""
    mark = conn.execute(
        f"select seq, chain_hash, events from {schema}.watermark where extraction = ?",
        [extraction],
    ).fetchall()
    if mark:
        seq, chain_hash, events = mark[0]
        (count,) = conn.execute(
            "select count(*) from store.events where seq <= ?", [seq]
        ).fetchone()
        stored = conn.execute("select chain_hash from store.events where seq = ?", [seq])
        if count == events and stored.fetchall() == [(chain_hash,)]:
            return seq
    for table in (*tables, "watermark"):
        conn.execute(f"delete from {schema}.{table}")
    return 0
