"""A small generated world that crosses a month end, run through the warehouse in-process."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest

from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.sample import generate_world
from billing_pipeline.warehouse.event_store import append_decisions, append_partition
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.ledger import rebuild_ledger

START, END = date(2026, 10, 28), date(2026, 11, 3)
NOW = datetime(2026, 11, 10, tzinfo=UTC)


@pytest.fixture(scope="package")
def fx_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("fx_world")
    inbox, truth = root / "inbox", root / "truth"
    generate_world(inbox, truth, START, END, payments_per_day=30, seed=11)
    conn = duckdb.connect()
    rules = load_rules("config/recon_rules.yml")
    day = START
    while day <= END:
        for source in SOURCES:
            land_partition(conn, inbox, source, day, "land", NOW)
        append_partition(conn, day, "UTC", "store", NOW)
        reconcile(conn, day, rules, "fx")
        append_decisions(conn, day, "fx", NOW)
        day += timedelta(days=1)
    report = rebuild_ledger(conn, "USD", "half_even", "fx", NOW)
    return conn, truth, report
