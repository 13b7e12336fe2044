"""Helpers shared by tests (import as `tests.support`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL_FIXTURES = REPO / "tests" / "fixtures" / "real"
DBT_DIR = REPO / "dbt_project"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def dbt(*args: str, warehouse: Path) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this environment against a warehouse directory."""
    executable = VENV_BIN / "dbt" if (VENV_BIN / "dbt").exists() else "dbt"
    env = {**os.environ, "BILLING_WAREHOUSE": str(warehouse)}
    return subprocess.run(
        [str(executable), *args, "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR)],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def insert_journal_lines(conn, lines: list[dict]) -> None:
    """Insert `ledger_store.journal_lines` rows given by the columns a test is about (fact_id,
    account, currency, debit_minor, credit_minor, effective_date, the functional amounts...);
    the others take neutral values: a functional USD book, one rate, no source file."""
    for line in lines:
        row = {
            "fact_type": "test", "line_no": 1, "rules_version": "v1",
            "event_id": line["fact_id"], "rate": "1", "rate_date": line["effective_date"],
            "rate_source": "test", "functional_currency": "USD",
            "partition_date": line["effective_date"],
            **line,
        }  # fmt: skip
        columns = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        conn.execute(
            f"insert into ledger_store.journal_lines ({columns}) values ({marks})",
            list(row.values()),
        )


# Columns that record *when* or *which run*, not *what*: they differ between equal runs.
VOLATILE_COLUMNS = frozenset({"landed_at", "quarantined_at", "run_id", "recorded_at"})


def published_snapshot(analytics: Path) -> dict[str, list[tuple]]:
    """Every relation of a published file, rows sorted, without the volatile columns."""
    import duckdb

    with duckdb.connect(str(analytics), read_only=True) as conn:
        relations = conn.execute(
            "select table_schema, table_name from information_schema.tables order by 1, 2"
        ).fetchall()
        snapshot = {}
        for schema, table in relations:
            columns = [
                c
                for (c,) in conn.execute(
                    "select column_name from information_schema.columns "
                    "where table_schema = ? and table_name = ? order by ordinal_position",
                    [schema, table],
                ).fetchall()
                if c not in VOLATILE_COLUMNS
            ]
            select = ", ".join(f'"{c}"' for c in columns)
            rows = conn.execute(f'select {select} from "{schema}"."{table}"').fetchall()
            snapshot[f"{schema}.{table}"] = sorted(rows, key=repr)
    return snapshot


def fail_landing_of(monkeypatch, failing_source: str) -> None:
    """Make landing `failing_source` raise OSError("share went away") (a flaky inbox share);
    the other sources land as usual."""
    from billing_pipeline.warehouse import land_sources

    real = land_sources.land_into_schema

    def landing(conn, inbox, source, *args):
        if source == failing_source:
            raise OSError("share went away")
        return real(conn, inbox, source, *args)

    monkeypatch.setattr(land_sources, "land_into_schema", landing)
