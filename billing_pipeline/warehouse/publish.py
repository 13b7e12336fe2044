"""Write the analysts' DuckDB file: build it beside the old one, then rename it into place.

Analysts open `analytics.duckdb` read-only. A rename is atomic on one file system, so a reader
sees either the previous complete file or the new complete file, never a half-written one,
and the writer never holds a lock on the file analysts read. A run killed while building the
new file leaves its temporary file behind; the next publish removes such leftovers (one
writer at a time: the run lock and the DuckDB pool of size one).

The new file starts as a copy of the published one, and each relation is brought up to date by
writing only the rows that changed (`publish_changes`); without a readable published file, or
with `full`, every relation is copied whole.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import duckdb

from billing_pipeline.warehouse.publish_changes import RelationChange, update_relation
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
# Updating relations in place leaves the blocks of deleted rows and replaced relations free in
# the file, for later writes to reuse. Once more of the file than this is free, the publish
# writes every relation whole into a fresh file instead: with a tenth of a relation's rows
# changing every day, the file peaked at 1.7x the size of one written whole, every fourth day
# (tests/warehouse/test_publish_changes.py pins under 2x).
MAX_FREE_SHARE = 0.25
# (A small file is not worth it: every free block would be a large share of it.)
MIN_FREE_BYTES = 64 * 2**20


def published_relations(conn: duckdb.DuckDBPyConnection) -> list[tuple[str, str]]:
    placeholders = ", ".join("?" for _ in PUBLISHED_SCHEMAS)
    return conn.execute(
        "select table_schema, table_name from information_schema.tables "
        f"where table_catalog = current_database() and table_schema in ({placeholders}) "
        "order by 1, 2",
        list(PUBLISHED_SCHEMAS),
    ).fetchall()


def publish(
    conn: duckdb.DuckDBPyConnection, analytics_path: Path, full: bool = False
) -> dict[str, int]:
    """Write every published relation into a fresh file and swap it in. Returns row counts."""
    return publish_with_changes(conn, analytics_path, full)[0]


def publish_with_changes(
    conn: duckdb.DuckDBPyConnection, analytics_path: Path, full: bool = False
) -> tuple[dict[str, int], dict[str, RelationChange]]:
    """`publish`, also returning how each relation was written."""
    analytics_path.parent.mkdir(parents=True, exist_ok=True)
    remove_leftovers(analytics_path)
    tmp_path = analytics_path.with_name(f".{analytics_path.name}.{uuid.uuid4().hex}.tmp")
    alias = "publishing"
    from_copy = not full and _attach_copy(conn, analytics_path, tmp_path, alias)
    if not from_copy:
        conn.execute(f"attach '{_sql_path(tmp_path)}' as {alias}")
    counts: dict[str, int] = {}
    changes: dict[str, RelationChange] = {}
    try:
        stale = set(_relations_of(conn, alias)) if from_copy else set()
        for schema, table in published_relations(conn):
            conn.execute(f'create schema if not exists {alias}."{schema}"')
            source, target = f'"{schema}"."{table}"', f'{alias}."{schema}"."{table}"'
            name = f"{schema}.{table}"
            if (schema, table) in stale:
                stale.discard((schema, table))
                changes[name] = update_relation(
                    conn, source, target, lambda s=source, t=target: _rewrite(conn, s, t)
                )
            else:
                _copy(conn, source, target)
                changes[name] = RelationChange("copied")
            row = conn.execute(f"select count(*) from {target}").fetchone()
            counts[name] = int(row[0]) if row else 0
        if from_copy:
            _drop_unpublished(conn, alias, stale)
        conn.execute(f"checkpoint {alias}")
    finally:
        conn.execute(f"detach {alias}")
    _fsync(tmp_path)
    os.replace(tmp_path, analytics_path)
    _fsync(analytics_path.parent)  # the rename itself survives a power cut
    return counts, changes


def _attach_copy(conn, analytics_path: Path, tmp_path: Path, alias: str) -> bool:
    """Attach a copy of the published file as `alias`; False (and no copy) when there is no
    published file or it cannot be read, and the publish starts from an empty file."""
    if not analytics_path.is_file():
        return False
    try:
        shutil.copyfile(analytics_path, tmp_path)
        conn.execute(f"attach '{_sql_path(tmp_path)}' as {alias}")
    except (OSError, duckdb.Error):
        tmp_path.unlink(missing_ok=True)
        return False
    free, used, block = conn.execute(
        "select free_blocks, used_blocks, block_size from pragma_database_size() "
        "where database_name = ?",
        [alias],
    ).fetchone()
    if free > MAX_FREE_SHARE * (free + used) and free * block > MIN_FREE_BYTES:
        conn.execute(f"detach {alias}")
        tmp_path.unlink()
        return False
    return True


def _relations_of(conn: duckdb.DuckDBPyConnection, alias: str) -> list[tuple[str, str]]:
    return conn.execute(
        "select schema_name, table_name from duckdb_tables() where database_name = ?", [alias]
    ).fetchall()


def _drop_unpublished(conn, alias: str, tables: set[tuple[str, str]]) -> None:
    """The copy keeps only what a publish from scratch would write: relations no longer
    published (a model removed) and anything else found in the file leave it."""
    for schema, table in tables:
        conn.execute(f'drop table {alias}."{schema}"."{table}"')
    views = conn.execute(
        "select schema_name, view_name from duckdb_views() "
        "where database_name = ? and not internal",
        [alias],
    ).fetchall()
    for schema, view in views:
        conn.execute(f'drop view {alias}."{schema}"."{view}"')
    schemas = conn.execute(
        "select schema_name from duckdb_schemas() where database_name = ? and not internal",
        [alias],
    ).fetchall()
    for (schema,) in schemas:
        if schema not in PUBLISHED_SCHEMAS and schema != "main":
            conn.execute(f'drop schema {alias}."{schema}" cascade')


def _rewrite(conn: duckdb.DuckDBPyConnection, source: str, target: str) -> None:
    conn.execute(f"drop table {target}")
    _copy(conn, source, target)


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
