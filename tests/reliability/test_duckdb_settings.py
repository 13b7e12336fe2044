"""The warehouse connections take DuckDB's memory cap and threads from the environment, and
dbt's profile reads the same variables, so the pipeline and dbt spill at the same size; the
ledger's chunk of new events follows the machine's memory unless configured."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest
import yaml

from billing_pipeline import settings
from billing_pipeline.defs.resources import build_resources


def test_the_pipelines_connections_spill_at_the_configured_memory_limit(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_WAREHOUSE", str(tmp_path))
    monkeypatch.setenv("BILLING_DUCKDB_MEMORY_LIMIT", "1GB")
    monkeypatch.setenv("BILLING_DUCKDB_THREADS", "1")
    with build_resources()["duckdb"].get_connection() as conn:
        limit, threads = conn.execute(
            "select current_setting('memory_limit'), current_setting('threads')"
        ).fetchone()
    assert (limit, threads) == ("953.6 MiB", 1)


def test_without_a_limit_duckdb_takes_half_the_machine_not_its_own_80_percent(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("BILLING_WAREHOUSE", str(tmp_path))
    monkeypatch.delenv("BILLING_DUCKDB_MEMORY_LIMIT", raising=False)
    limit = "select current_setting('memory_limit')"
    own = duckdb.connect().execute(limit).fetchone()
    half = duckdb.connect(config={"memory_limit": "50%"}).execute(limit).fetchone()
    with build_resources()["duckdb"].get_connection() as conn:
        assert conn.execute(limit).fetchone() == half != own


def test_dbt_reads_the_same_memory_limit_variable():
    profile = yaml.safe_load(Path(settings.DBT_PROJECT_DIR, "profiles.yml").read_text())
    dbt_settings = profile["billing_pipeline"]["outputs"]["dev"]["settings"]
    assert "env_var('BILLING_DUCKDB_MEMORY_LIMIT'" in dbt_settings["memory_limit"]
    assert "env_var('BILLING_DUCKDB_THREADS'" in dbt_settings["threads"]


def test_the_ledger_chunk_follows_the_machine_memory_within_its_bounds(monkeypatch):
    monkeypatch.delenv("BILLING_LEDGER_CHUNK_EVENTS", raising=False)
    gib = 2**30
    chunks = {}
    for memory in (1, 4, 8, 16, 24, 64):
        monkeypatch.setattr(settings, "_machine_memory_bytes", lambda m=memory: m * gib)
        chunks[memory] = settings.ledger_chunk_events()
    low, high = settings.CHUNK_BOUNDS
    assert chunks[1] == low and chunks[64] == high
    assert low < chunks[4] < chunks[8] < chunks[16] < chunks[24] < high
    for memory in (4, 8, 16, 24):  # an eighth of the machine at the measured cost per event
        assert chunks[memory] * settings.CHUNK_BYTES_PER_EVENT <= memory * gib / 8


def test_a_configured_ledger_chunk_wins_and_a_bad_one_is_refused(monkeypatch):
    monkeypatch.setattr(settings, "_machine_memory_bytes", lambda: 64 * 2**30)
    monkeypatch.setenv("BILLING_LEDGER_CHUNK_EVENTS", "1000")
    assert settings.ledger_chunk_events() == 1000
    monkeypatch.setenv("BILLING_LEDGER_CHUNK_EVENTS", "0")
    with pytest.raises(ValueError, match="positive integer"):
        settings.ledger_chunk_events()


@pytest.mark.parametrize(
    ("name", "read"),
    [
        ("BILLING_DBT_THREADS", settings.dbt_threads),
        ("BILLING_INGEST_WORKERS", settings.ingest_workers),
        ("BILLING_LEDGER_CHUNK_EVENTS", settings.ledger_chunk_events),
    ],
)
def test_a_count_setting_is_a_positive_integer_or_blank_and_a_bad_one_names_itself(
    monkeypatch, name, read
):
    monkeypatch.delenv(name, raising=False)
    unset = read()
    monkeypatch.setenv(name, "  ")
    assert read() == unset >= 1
    monkeypatch.setenv(name, " 3 ")
    assert read() == 3
    for bad in ("0", "-2", "abc", "1.5"):
        monkeypatch.setenv(name, bad)
        with pytest.raises(ValueError, match=f"{name} must be a positive integer, got '{bad}'"):
            read()


def test_a_warehouse_folder_that_does_not_exist_yet_is_created_not_retried_for_minutes(
    tmp_path, monkeypatch
):
    """dagster-duckdb retries a failed connect for ~17 minutes (meant for another process's
    lock); a fresh BILLING_WAREHOUSE folder must open at once, from any entry point."""
    import dagster_duckdb.resource

    def connect_once(fn, retry_on, kwargs, max_retries):  # the old code fails here at once
        return fn(**kwargs)

    monkeypatch.setattr(dagster_duckdb.resource, "backoff", connect_once)
    warehouse = tmp_path / "not" / "yet" / "made"
    monkeypatch.setenv("BILLING_WAREHOUSE", str(warehouse))
    with build_resources()["duckdb"].get_connection() as conn:
        conn.execute("create table probe as select 1 as one")
    assert (warehouse / settings.WAREHOUSE_FILE).is_file()
