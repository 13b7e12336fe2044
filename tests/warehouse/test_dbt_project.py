"""The dbt project builds into a fresh DuckDB file and its integrity tests hold."""

from __future__ import annotations

import duckdb

from billing_pipeline.warehouse.tables import ensure_schema
from tests.support import dbt


def test_dbt_build_succeeds_on_an_empty_warehouse(warehouse):
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
    result = dbt("build", warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-3000:]
    with duckdb.connect(str(warehouse / "billing.duckdb"), read_only=True) as conn:
        relations = {
            f"{s}.{t}"
            for s, t in conn.execute(
                "select table_schema, table_name from information_schema.tables"
            ).fetchall()
        }
    assert {"ops.file_registry", "ops.quarantine", "staging.stg_bank__lines"} <= relations


def test_nothing_lost_integrity_test_fails_when_a_staged_row_disappears(warehouse):
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
        # A registry row claiming two staged rows, with only one present in raw: a lost row.
        conn.execute(
            "insert into ingest.file_registry values ('f1', 'abc', 'events', '2026-10-05', "
            "'events/2026-10-05/e.jsonl', 'e.jsonl', 10, 1, 'landed', null, null, 'jsonl', "
            "2, 2, 0, now(), 'r1')"
        )
        conn.execute(
            "insert into raw.billing_events (file_id, source, partition_date, event_id, type, "
            "source_line) values ('f1', 'events', '2026-10-05', 'evt_1', 'invoice.sent', 1)"
        )
    result = dbt("build", warehouse=warehouse)
    assert result.returncode != 0
    assert "nothing_lost_per_file" in result.stdout


def test_dbt_refuses_to_build_while_a_partition_is_half_written(warehouse):
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
        conn.execute(
            "insert into ingest.unfinished_writes "
            "values ('ingest events', '2026-10-05', 'r1', now())"
        )
    result = dbt("run", "--select", "stg_rates__rates", warehouse=warehouse)
    assert result.returncode != 0
    assert "a partition write stopped half-way: ingest events 2026-10-05 (run r1)" in result.stdout
