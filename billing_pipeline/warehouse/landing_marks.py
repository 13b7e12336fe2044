"""Which partitions are half-landed: the landing's commit record, and the readers' guard.

A large file is staged in several transactions, because a DuckDB transaction holds memory
for every row it has appended until it commits (a 30M-line event log held 18.8 GiB). So a
stop half-way leaves part of a partition in `raw.*`. Landing marks the partition before its
first batch and clears the mark in the transaction that writes the file registry; readers of
`raw.*` refuse to run while a mark is left, and landing the partition again replaces it
whole. dbt checks the same table in its `on-run-start` hook (`require_finished_landings`).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

DDL = """
create table if not exists ingest.landings_in_progress (
    source varchar not null,
    partition_date date not null,
    run_id varchar not null,
    started_at timestamptz not null
);
"""


class UnfinishedLanding(RuntimeError):
    """`raw.*` holds part of a partition whose landing stopped before it finished."""


def mark_started(
    conn: duckdb.DuckDBPyConnection, source: str, partition_date: date, run_id: str, now: datetime
) -> None:
    conn.execute(
        "delete from ingest.landings_in_progress where source = ? and partition_date = ?",
        [source, partition_date],
    )
    conn.execute(
        "insert into ingest.landings_in_progress values (?, ?, ?, ?)",
        [source, partition_date, run_id, now],
    )


def mark_finished(conn: duckdb.DuckDBPyConnection, source: str, partition_date: date) -> None:
    conn.execute(
        "delete from ingest.landings_in_progress where source = ? and partition_date = ?",
        [source, partition_date],
    )


def unfinished_landings(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, date, str]]:
    """(source, partition date, run id) of every landing that stopped half-way."""
    exists = conn.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ingest' and table_name = 'landings_in_progress'"
    ).fetchone()
    if not exists or not exists[0]:
        return []  # a warehouse from before landing in batches: nothing can be half-landed
    return conn.execute(
        "select source, partition_date, run_id from ingest.landings_in_progress "
        "order by partition_date, source"
    ).fetchall()


def require_finished_landings(conn: duckdb.DuckDBPyConnection) -> None:
    unfinished = unfinished_landings(conn)
    if unfinished:
        listed = ", ".join(f"{source} {day} (run {run})" for source, day, run in unfinished)
        raise UnfinishedLanding(
            f"raw.* holds part of a partition whose landing stopped half-way: {listed}. "
            "Land it again (rerun its ingest asset) before anything reads raw.*."
        )
