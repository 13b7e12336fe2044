"""The warehouse connections take DuckDB's memory cap and threads from the environment, and
dbt's profile reads the same variables, so the pipeline and dbt spill at the same size."""

from __future__ import annotations

from pathlib import Path

import duckdb
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
