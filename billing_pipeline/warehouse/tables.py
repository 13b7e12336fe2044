"""Table layout of billing.duckdb, derived from the canonical frame contract.

Staged tables (`raw.<frame>`) hold validated rows: the canonical columns of `formats.base`
with decimal-text amounts replaced by BIGINT minor units, plus lineage columns (file, line,
partition). Deriving the DDL from the contract keeps parsers, validation and storage in step.
"""

from __future__ import annotations

import duckdb
import polars as pl

from billing_pipeline.formats.base import FRAMES

_DUCKDB_TYPES = {
    pl.Utf8: "VARCHAR",
    pl.Int64: "BIGINT",
    pl.Date: "DATE",
}
# The column type of event payloads (JSON text, ~330 bytes a row, 1.4 GB of stored events a day
# at a million payments): zstd instead of DuckDB's pick (dictionary + FSST). On 4M stored events
# of the 1M-payment world, writing them took 15.3 s against 19.2 s (checkpoint included), the
# file 915 against 1,263 MiB, and parsing them back 1.08 against 0.92 s (benchmarks/RESULTS.md,
# session 29). A table created before keeps its layout: DuckDB cannot alter a column's codec.
# The same holds for the other JSON text written once and read rarely: a match's evidence, a
# discrepancy's detail (recon_store) and both in the published file (session 31).
PAYLOAD_TYPE = "VARCHAR USING COMPRESSION zstd"
LINEAGE_COLUMNS = {
    "file_id": "VARCHAR NOT NULL",
    "source": "VARCHAR NOT NULL",
    "partition_date": "DATE NOT NULL",
}


def staged_column_name(column: str) -> str:
    """`gross_amount` -> `gross_minor`, `amount` -> `amount_minor`; other names unchanged."""
    if column == "amount":
        return "amount_minor"
    if column.endswith("_amount"):
        return column.removesuffix("_amount") + "_minor"
    return column


def staged_schema(frame: str) -> dict[str, pl.DataType]:
    schema: dict[str, pl.DataType] = {}
    for column, dtype in FRAMES[frame].items():
        is_amount = column == "amount" or column.endswith("_amount")
        if is_amount and frame != "rates":
            schema[staged_column_name(column)] = pl.Int64
        else:
            schema[column] = dtype
    return schema


def _duckdb_type(dtype: pl.DataType) -> str:
    if isinstance(dtype, pl.Datetime):
        return "TIMESTAMPTZ"
    return _DUCKDB_TYPES[dtype]  # type: ignore[index]


OPS_DDL = """
create schema if not exists ingest;
create schema if not exists raw;

create table if not exists ingest.file_registry (
    file_id varchar not null,           -- sha256 of the bytes: the same bytes land once
    sha256 varchar not null,
    source varchar not null,
    partition_date date not null,
    path varchar not null,              -- relative to the inbox
    file_name varchar not null,
    size_bytes bigint not null,
    path_version integer not null,      -- 1 for the first bytes seen at this path, then 2...
    status varchar not null,            -- landed | duplicate | unreadable | superseded
    duplicate_of varchar,               -- path of the copy that landed, for duplicates
    detail varchar,
    file_format varchar,
    rows_read bigint not null,
    rows_staged bigint not null,
    rows_quarantined bigint not null,
    landed_at timestamptz not null,
    run_id varchar not null
);
create table if not exists ingest.quarantine (
    file_id varchar not null,
    source varchar not null,
    partition_date date not null,
    path varchar not null,
    line_no bigint,                     -- null when the whole file was rejected
    stage varchar not null,             -- parse | validate | ledger
    reason varchar not null,
    raw_record varchar,
    quarantined_at timestamptz not null,
    run_id varchar not null
);
"""


def use_utc(conn: duckdb.DuckDBPyConnection) -> None:
    """Read instants back in UTC whatever the machine's zone (results must not depend on TZ).

    Set after connecting: DuckDB loads its time-zone support lazily, so it cannot be part of
    the connection config."""
    conn.execute("set TimeZone = 'UTC'")


# source family (inbox folder) -> the canonical frames its files produce
SOURCE_FRAMES: dict[str, tuple[str, ...]] = {
    "stripe": ("settlement_lines", "payouts"),
    "adyen": ("settlement_lines", "payouts"),
    "bank": ("bank_lines", "bank_balances"),
    "events": ("billing_events",),
    "rates": ("rates",),
}


def staged_table(source: str, frame: str) -> str:
    """`raw.<table>` holding `frame` rows from `source`: one table per source, as dbt expects."""
    return f"{source}_{frame}" if source in ("stripe", "adyen") else frame


def ensure_schema(conn: duckdb.DuckDBPyConnection) -> None:
    """Create every table the pipeline writes, if missing. Safe to call on every run."""
    # The later stages' tables too, so that dbt always finds its sources.
    from billing_pipeline.recon.store import ensure_tables as ensure_recon
    from billing_pipeline.warehouse.fx_rates import DDL as FX_RATES_DDL
    from billing_pipeline.warehouse.ledger import ensure_ledger
    from billing_pipeline.warehouse.ledger_keys import DDL as LEDGER_KEYS_DDL
    from billing_pipeline.warehouse.partition_marks import DDL as PARTITION_MARKS_DDL

    use_utc(conn)
    conn.execute(OPS_DDL)
    conn.execute(PARTITION_MARKS_DDL)
    ensure_ledger(conn)
    ensure_recon(conn)
    conn.execute(FX_RATES_DDL)
    conn.execute(LEDGER_KEYS_DDL)  # the ledger's typed copies, which a mart reads too
    for source, frames in SOURCE_FRAMES.items():
        for frame in frames:
            columns = {**LINEAGE_COLUMNS}
            columns.update({c: _duckdb_type(t) for c, t in staged_schema(frame).items()})
            if "payload" in columns:
                columns["payload"] = PAYLOAD_TYPE
            body = ",\n    ".join(f"{c} {t}" for c, t in columns.items())
            table = staged_table(source, frame)
            conn.execute(f"create table if not exists raw.{table} (\n    {body}\n)")


def query_frame(conn: duckdb.DuckDBPyConnection, sql: str, params=None) -> pl.DataFrame:
    """A query's result as a polars frame (DuckDB 2.0 connections have no `.pl()`)."""
    return conn.sql(sql, params=params).pl()
