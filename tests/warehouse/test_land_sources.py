"""Sources landed side by side give the tables that landing them one by one gives."""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from billing_pipeline.sample.world import generate_world
from billing_pipeline.warehouse.land_sources import land_sources
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from tests.support import fail_landing_of

DAY = date(2026, 10, 6)
NOW = datetime(2026, 10, 7, 6, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def inbox(tmp_path_factory) -> Path:
    """Two dates of every source."""
    root = tmp_path_factory.mktemp("world")
    generate_world(root / "inbox", None, date(2026, 10, 5), DAY, payments_per_day=40, seed=5)
    # and a bad line and an unreadable file, so that every table has rows to compare
    (root / "inbox" / "events" / DAY.isoformat() / "torn.jsonl").write_text('{"event_id": \n')
    (root / "inbox" / "stripe" / DAY.isoformat() / "utf16.csv").write_bytes("a,b".encode("utf-16"))
    return root / "inbox"


def _tables(conn: duckdb.DuckDBPyConnection) -> dict[str, list[tuple]]:
    """Every row of every ingest and raw table, order-free."""
    names = conn.execute(
        "select schema_name, table_name from duckdb_tables() "
        "where schema_name in ('raw', 'ingest') order by 1, 2"
    ).fetchall()
    return {
        f"{schema}.{table}": sorted(conn.execute(f"from {schema}.{table}").fetchall(), key=repr)
        for schema, table in names
    }


def _one_by_one(inbox: Path) -> dict[str, list[tuple]]:
    conn = duckdb.connect()
    for day in (date(2026, 10, 5), DAY):
        for source in SOURCES:
            land_partition(conn, inbox, source, day, "run", NOW)
    return _tables(conn)


@pytest.mark.parametrize("workers", [2, 5])
def test_sources_landed_side_by_side_give_the_tables_of_landing_them_one_by_one(inbox, workers):
    conn = duckdb.connect()
    for day in (date(2026, 10, 5), DAY):
        landings = land_sources(conn, inbox, list(SOURCES), day, "run", NOW, workers=workers)
        assert [landing.source for landing in landings] == list(SOURCES)
        assert all(landing.error is None and not landing.violations for landing in landings)
    side_by_side = _tables(conn)

    assert side_by_side == _one_by_one(inbox)
    assert sum(len(rows) for name, rows in side_by_side.items() if name.startswith("raw.")) > 0
    assert side_by_side["ingest.quarantine"], "the world's bad rows are quarantined"


def test_a_file_delivered_to_two_sources_is_landed_by_the_first_and_a_duplicate_in_the_other(
    inbox, tmp_path
):
    """Which source gets shared bytes cannot depend on which thread is faster."""
    shutil.copytree(inbox, tmp_path / "inbox")
    inbox = tmp_path / "inbox"
    shared = sorted((inbox / "stripe" / DAY.isoformat()).iterdir())[0]
    shutil.copy(shared, inbox / "events" / DAY.isoformat() / "misfiled.csv")

    for _ in range(3):
        conn = duckdb.connect()
        land_sources(conn, inbox, list(SOURCES), DAY, "run", NOW, workers=2)
        registry = dict(
            conn.execute(
                "select source, status from ingest.file_registry "
                "where path like 'events/%/misfiled.csv' or path = ?",
                [shared.relative_to(inbox).as_posix()],
            ).fetchall()
        )
        # `SOURCES` order: stripe lands before events
        assert registry == {"stripe": "landed", "events": "duplicate"}


def test_a_source_that_fails_is_reported_and_the_others_still_land(inbox, monkeypatch):
    fail_landing_of(monkeypatch, "bank")
    conn = duckdb.connect()
    landings = {
        landing.source: landing
        for landing in land_sources(conn, inbox, list(SOURCES), DAY, "run", NOW, workers=2)
    }

    assert isinstance(landings["bank"].error, OSError)
    assert landings["bank"].report is None
    landed = {
        source
        for (source,) in conn.execute(
            "select distinct source from ingest.file_registry where status = 'landed'"
        ).fetchall()
    }
    assert landed == set(SOURCES) - {"bank"}
    assert all(landings[source].error is None for source in landed)


def test_unknown_sources_are_refused_before_anything_lands(inbox):
    conn = duckdb.connect()
    with pytest.raises(ValueError, match="paypal"):
        land_sources(conn, inbox, ["stripe", "paypal"], DAY, "run", NOW, workers=2)
    assert not conn.execute(
        "select count(*) from duckdb_tables() where schema_name = 'ingest'"
    ).fetchone()[0]
