"""The ingest multi-asset: sources can be selected one by one, and one failing source neither
hides what the others landed nor passes silently."""

from __future__ import annotations

from datetime import date

import dagster as dg
import duckdb
import pytest
from dagster_duckdb import DuckDBResource

from billing_pipeline.defs.ingest import CHECKS, SPECS, ingest
from billing_pipeline.sample.world import generate_world
from tests.support import fail_landing_of

DAY = date(2026, 10, 5)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory):
    root = tmp_path_factory.mktemp("world")
    generate_world(root / "inbox", None, DAY, DAY, payments_per_day=20, seed=3)
    return root / "inbox"


def _materialize(inbox, tmp_path, monkeypatch, selection):
    monkeypatch.setenv("BILLING_INBOX", str(inbox))
    database = tmp_path / "billing.duckdb"
    result = dg.materialize(
        [ingest],
        selection=selection,
        partition_key=DAY.isoformat(),
        resources={"duckdb": DuckDBResource(database=str(database))},
        raise_on_error=False,
    )
    return result, database


def _landed_sources(database) -> set[str]:
    with duckdb.connect(str(database), read_only=True) as conn:
        rows = conn.execute("select distinct source from ingest.file_registry").fetchall()
    return {source for (source,) in rows}


def test_selecting_one_source_lands_and_reports_only_that_source(inbox, tmp_path, monkeypatch):
    bank = [spec.key for spec in SPECS["bank"]]

    result, database = _materialize(inbox, tmp_path, monkeypatch, bank)

    assert result.success
    materialized = {
        e.event_specific_data.materialization.asset_key
        for e in result.get_asset_materialization_events()
    }
    assert materialized == set(bank)
    checks = result.get_asset_check_evaluations()
    assert [(c.asset_check_key, c.passed) for c in checks] == [(CHECKS["bank"].key, True)]
    assert _landed_sources(database) == {"bank"}


def test_a_failing_source_fails_the_step_after_the_others_reported(inbox, tmp_path, monkeypatch):
    """(The step's retries fail the same way; each attempt lands the other sources again.)"""
    fail_landing_of(monkeypatch, "bank")

    result, database = _materialize(inbox, tmp_path, monkeypatch, None)

    assert not result.success
    failure = next(e for e in result.all_events if e.is_step_failure)
    assert "bank: OSError: share went away" in str(failure.step_failure_data.error)
    reported = {
        e.event_specific_data.materialization.asset_key.path[0]
        for e in result.get_asset_materialization_events()
    }
    assert reported == set(SPECS) - {"bank"}
    delivered = {s for s in SPECS if any((inbox / s / DAY.isoformat()).glob("*"))}
    assert "bank" in delivered
    assert _landed_sources(database) == delivered - {"bank"}
