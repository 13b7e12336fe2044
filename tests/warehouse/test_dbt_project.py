"""The dbt project builds into a fresh DuckDB file and its integrity tests hold."""

from __future__ import annotations

import dagster as dg
import duckdb

from billing_pipeline.defs.resources import build_resources
from billing_pipeline.defs.transform import dbt_models
from billing_pipeline.warehouse.ledger import ensure_ledger
from billing_pipeline.warehouse.tables import ensure_schema
from tests.support import dbt, insert_journal_lines


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


def _line(entry: str, line_no: int, currency: str, debit: int, credit: int, fd: int, fc: int):
    return {
        "fact_id": entry, "line_no": line_no, "account": f"assets:test:{line_no}",
        "currency": currency, "debit_minor": debit, "credit_minor": credit,
        "effective_date": "2026-10-05", "functional_debit_minor": fd,
        "functional_credit_minor": fc,
    }  # fmt: skip


def test_every_entry_balances_flags_exactly_the_entries_that_do_not(warehouse):
    balanced = [
        # two currencies, each balanced, and balanced in USD
        _line("ok_fx", 1, "EUR", 100, 0, 110, 0),
        _line("ok_fx", 2, "EUR", 0, 100, 0, 110),
        _line("ok_fx", 3, "USD", 5, 0, 5, 0),
        _line("ok_fx", 4, "USD", 0, 5, 0, 5),
    ]
    broken = [
        # balanced in USD, not in EUR
        _line("bad_currency", 1, "EUR", 100, 0, 110, 0),
        _line("bad_currency", 2, "EUR", 0, 99, 0, 110),
        # balanced in EUR, not in USD
        _line("bad_functional", 1, "EUR", 100, 0, 110, 0),
        _line("bad_functional", 2, "EUR", 0, 100, 0, 109),
        # a single line that balances nothing
        _line("single", 1, "USD", 0, 0, 0, 0),
    ]
    db = warehouse / "billing.duckdb"
    with duckdb.connect(str(db)) as conn:
        ensure_schema(conn)
        ensure_ledger(conn)
        insert_journal_lines(conn, balanced)
    # (not journal_lines' own tests: its events are not in this store)
    select = (
        "--select", "journal_lines every_entry_balances",
        "--exclude", "test_type:generic",
        "--store-failures",
    )  # fmt: skip
    result = dbt("build", *select, warehouse=warehouse)
    assert result.returncode == 0, result.stdout[-3000:]

    with duckdb.connect(str(db)) as conn:
        insert_journal_lines(conn, broken)
    result = dbt("build", *select, warehouse=warehouse)
    assert result.returncode != 0
    with duckdb.connect(str(db), read_only=True) as conn:
        (failures,) = conn.execute(
            "select table_schema || '.' || table_name from information_schema.tables "
            "where table_name = 'every_entry_balances'"
        ).fetchone()
        flagged = {
            e for (e,) in conn.execute(f"select distinct entry_id from {failures}").fetchall()
        }
    assert flagged == {"bad_currency", "bad_functional", "single"}


def test_dbt_builds_as_many_nodes_at_once_as_the_setting_says(warehouse, monkeypatch):
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
    monkeypatch.delenv("BILLING_DBT_THREADS", raising=False)
    one = dbt("run", "--select", "stg_rates__rates", warehouse=warehouse)
    monkeypatch.setenv("BILLING_DBT_THREADS", "2")
    two = dbt("run", "--select", "stg_rates__rates", warehouse=warehouse)
    assert one.returncode == 0 and two.returncode == 0, (one.stdout + two.stdout)[-3000:]
    assert "Concurrency: 1 threads" in one.stdout
    assert "Concurrency: 2 threads" in two.stdout
    monkeypatch.setenv("BILLING_DBT_THREADS", " ")  # blank: the default, as settings reads it
    blank = dbt("run", "--select", "stg_rates__rates", warehouse=warehouse)
    assert blank.returncode == 0 and "Concurrency: 1 threads" in blank.stdout, blank.stdout[-3000:]


def test_the_dbt_step_refuses_a_bad_thread_count_naming_the_setting(warehouse, monkeypatch):
    """dbt itself would fail on `0` with Python's "max_workers must be greater than 0"."""
    monkeypatch.setenv("BILLING_WAREHOUSE", str(warehouse))
    monkeypatch.setenv("BILLING_DBT_THREADS", "0")
    result = dg.materialize(
        [dbt_models],
        resources=build_resources(),
        partition_key="2026-10-05",
        raise_on_error=False,
    )
    assert not result.success
    (failure,) = [e for e in result.all_events if e.event_type_value == "STEP_FAILURE"]
    assert "BILLING_DBT_THREADS must be a positive integer, got '0'" in str(
        failure.event_specific_data.error
    )
