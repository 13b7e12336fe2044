"""The tables reconciliation writes (schema `recon_store`), one slice per run date.

Each run replaces its own `as_of` slice (delete + insert in one transaction), so running the
same date twice gives the same rows, and the slices of earlier dates are the history that
keeps `detected_on` stable. Matches are the exception in storage, not in what readers see:
`recon_store.matches` is a view over matches stored once with the dates they hold for
(`match_spans`).
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.recon import match_spans
from billing_pipeline.warehouse.tables import PAYLOAD_TYPE

# A discrepancy's detail is JSON text, like a match's evidence (`match_spans.DDL`): zstd.
DDL = f"""
create schema if not exists recon_store;
create table if not exists recon_store.discrepancies (
    as_of date not null, discrepancy_id varchar not null, leg varchar not null,
    type varchar not null, reference varchar not null, amount_minor bigint, currency varchar,
    detected_on date not null, age_days integer not null, status varchar not null,
    candidates varchar[] not null, detail {PAYLOAD_TYPE}, resolution varchar,
    rules_version varchar not null, run_id varchar not null);
create table if not exists recon_store.decisions (
    as_of date not null, idempotency_key varchar not null, event_type varchar not null,
    occurred_at timestamptz not null, business_date date not null,
    aggregate_type varchar not null, aggregate_id varchar, payload {PAYLOAD_TYPE} not null,
    source varchar not null, run_id varchar not null, source_line bigint);
-- A decision's line in its date's file: its rank by key (event_store.append_decisions). Slices
-- written before it gain the column empty, and are ranked when they are appended.
alter table recon_store.decisions add column if not exists source_line bigint;
create table if not exists recon_store.resolutions_log (
    as_of date not null, file varchar not null, line bigint not null,
    discrepancy_id varchar, action varchar, note varchar, who varchar, refs varchar[],
    outcome varchar not null, reason varchar, applied_at date not null, run_id varchar not null);
-- The last stored event a date's run had read, so a later date can start from its slice.
create table if not exists recon_store.run_marks (
    as_of date not null, upto_seq bigint, rules_version varchar not null,
    engine varchar not null, run_id varchar not null, write_no bigint);
-- The order slices were written in (recon.history); stores from before it gain it here.
alter table recon_store.run_marks add column if not exists write_no bigint;
create table if not exists recon_store.metrics (
    as_of date not null, leg varchar not null, metric varchar not null,
    type varchar, age_bucket varchar, currency varchar, value decimal(38, 4) not null,
    run_id varchar not null);
"""

TABLES = ("matches", "discrepancies", "decisions", "resolutions_log", "metrics", "run_marks")


def ensure_tables(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(DDL)
    match_spans.ensure(conn)


def write_slice(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Replace the `as_of` slice of every table with the run's `recon_out_<table>` temp tables."""
    ensure_tables(conn)
    conn.execute("begin transaction")
    try:
        for table in TABLES:
            if table == "matches":
                match_spans.write(conn, as_of)
                continue
            conn.execute(f"delete from recon_store.{table} where as_of = ?", [as_of])
            conn.execute(f"insert into recon_store.{table} by name select * from recon_out_{table}")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
