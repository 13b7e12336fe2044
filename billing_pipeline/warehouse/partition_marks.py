"""Which partition writes stopped half-way: the writers' commit record, and the readers' guard.

Landing a large file and appending a large day to the event store commit in batches, because
a DuckDB transaction holds memory for every row it appends until it commits (a 30M-line event
log held 18.8 GiB). So a stop half-way leaves part of a partition written. Such a writer marks
the partition before its first batch and clears the mark in the transaction that completes it;
readers refuse to run while a mark is left, and rerunning the writer completes the partition
(a landing replaces it whole; the store appends what is missing). dbt checks the same table in
its `on-run-start` hook (`require_finished_writes`).
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

DDL = """
create table if not exists ingest.unfinished_writes (
    writer varchar not null,          -- 'ingest events', 'event store staged', ...
    partition_date date not null,
    run_id varchar not null,
    started_at timestamptz not null
);
"""


class UnfinishedWrite(RuntimeError):
    """The warehouse holds part of a partition whose write stopped before it finished."""


def mark_started(
    conn: duckdb.DuckDBPyConnection, writer: str, partition_date: date, run_id: str, now: datetime
) -> None:
    conn.execute(DDL)
    mark_finished(conn, writer, partition_date)
    conn.execute(
        "insert into ingest.unfinished_writes values (?, ?, ?, ?)",
        [writer, partition_date, run_id, now],
    )


def commit_batch(conn: duckdb.DuckDBPyConnection) -> None:
    """Commit what a marked writer wrote so far and go on in a new transaction."""
    conn.execute("commit")
    conn.execute("begin transaction")


def mark_finished(conn: duckdb.DuckDBPyConnection, writer: str, partition_date: date) -> None:
    conn.execute(
        "delete from ingest.unfinished_writes where writer = ? and partition_date = ?",
        [writer, partition_date],
    )


def unfinished_writes(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, date, str]]:
    """(writer, partition date, run id) of every partition write that stopped half-way."""
    ((exists,),) = conn.execute(
        "select count(*) from duckdb_tables() where database_name = current_database() "
        "and schema_name = 'ingest' and table_name = 'unfinished_writes'"
    ).fetchall()
    if not exists:
        return []  # a warehouse from before batched writes: nothing can be half-written
    return conn.execute(
        "select writer, partition_date, run_id from ingest.unfinished_writes "
        "order by partition_date, writer"
    ).fetchall()


# Writers in the order a daily run calls them. A reader refuses the marks of the writers it
# reads from; a writer's own rerun must not be refused by a mark that only a later step of the
# same rerun can clear.
INGEST = "ingest "
STORE_STAGED = "event store staged"
STORE_RECON = "event store recon"


def require_finished_writes(
    conn: duckdb.DuckDBPyConnection, writers: tuple[str, ...] | None = None
) -> None:
    """Raise `UnfinishedWrite` if a mark is left by a writer whose name starts with one of
    `writers` (by any writer when None)."""
    unfinished = [
        (writer, day, run)
        for writer, day, run in unfinished_writes(conn)
        if writers is None or writer.startswith(writers)
    ]
    if unfinished:
        listed = ", ".join(f"{writer} {day} (run {run})" for writer, day, run in unfinished)
        raise UnfinishedWrite(
            f"a partition write stopped half-way: {listed}. Rerun it (materialize that "
            "partition again) before anything reads what it writes."
        )
