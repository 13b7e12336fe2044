"""Write the analysts' DuckDB file: build it beside the old one, then rename it into place.

Analysts open `analytics.duckdb` read-only. A rename is atomic on one file system, so a reader
sees either the previous complete file or the new complete file, never a half-written one,
and the writer never holds a lock on the file analysts read. A run killed while building the
new file leaves its temporary file behind; the next publish removes such leftovers (one
writer at a time: the run lock and the DuckDB pool of size one).
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

import duckdb

from billing_pipeline.warehouse.tables import PAYLOAD_TYPE

# Schemas of billing.duckdb that form the analyst contract (see README "Published relations").
PUBLISHED_SCHEMAS = ("ops", "ledger", "payments", "recon", "receivables", "fx")
# Columns of JSON text (a match's evidence, a discrepancy's detail) are written with zstd, as
# the event payloads are (`tables.PAYLOAD_TYPE`): DuckDB's pick for them is slow to write and
# large. Copying the 1M-payment world's 1.3M matches took 2.4 s against 3.7 s and 109 against
# 245 MiB; its 1.4M discrepancies 1.7 against 1.95 s. Other columns (ids, accounts, states)
# are left to DuckDB: zstd on every text column made the journal's copy slower (9.5 against
# 7.8 s) and twice as large (benchmarks/RESULTS.md, session 31).
JSON_TEXT_COLUMNS = frozenset({"evidence", "detail"})


def published_relations(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in PUBLISHED_SCHEMAS)
    return conn.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_catalog = current_database() and table_schema in ({placeholders}) "
        "order by 1, 2",
        list(PUBLISHED_SCHEMAS),
    ).fetchall()


def publish(conn: duckdb.DuckDBPyConnection, analytics_path: Path) -> dict[str, int]:
    """Copy every published relation into a fresh file and swap it in. Returns row counts."""
    analytics_path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(analytics_path)
    tmp_path = analytics_path.with_name(f".{analytics_path.name}.{uuid.uuid4().hex}.tmp")
    alias = "publishing"
    counts: dict[str, int] = {}
    conn.execute(f"attach '{_sql_path(tmp_path)}' as {alias}")
    try:
        for schema, table in published_relations(conn):
            conn.execute(f'create schema if not exists {alias}."{schema}"')
            _copy(conn, f'"{schema}"."{table}"', f'{alias}."{schema}"."{table}"')
            row = conn.execute(f'select count(*) from {alias}."{schema}"."{table}"').fetchone()
            counts[f"{schema}.{table}"] = int(row[0]) if row else 0
        conn.execute(f"checkpoint {alias}")
    finally:
        conn.execute(f"detach {alias}")
    _fsync(tmp_path)
    os.replace(tmp_path, analytics_path)
    _fsync(analytics_path.parent)  # the rename itself survives a power cut
    return counts


def _copy(conn: duckdb.DuckDBPyConnection, source: str, target: str) -> None:
    columns = conn.execute(f"select column_name, column_type from (describe from {source})")
    columns = columns.fetchall()
    zstd = {name for name, kind in columns if name in JSON_TEXT_COLUMNS and kind == "VARCHAR"}
    if not zstd:
        conn.execute(f"create table {target} as select * from {source}")
        return
    definitions = ", ".join(
        f'"{name}" {PAYLOAD_TYPE if name in zstd else kind}' for name, kind in columns
    )
    conn.execute(f"create table {target} ({definitions})")
    conn.execute(f"insert into {target} select * from {source}")


def remove_leftovers(analytics_path: Path) -> list[Path]:
    """Delete temporary files of earlier publishes that never reached the rename."""
    pattern = f".{analytics_path.name}.*.tmp*"  # the file and its .wal
    leftovers = sorted(analytics_path.parent.glob(pattern))
    for path in leftovers:
        path.unlink(missing_ok=True)
    return leftovers


def _sql_path(path: Path) -> str:
    # ATTACH takes no bind parameters; the path is ours (settings), but quote it anyway.
    return str(path).replace("'", "''")


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
