"""Smoke test of the benchmark harness on a tiny world: the arms agree, the floor reads it all.

The benchmarks themselves are not part of `make test`; this only keeps the harness honest.
"""

from __future__ import annotations

import csv
from datetime import UTC, date, datetime

import duckdb
import pytest

from benchmarks.floor import read_floor
from benchmarks.recon_arms import lean_sql, pandas_script
from billing_pipeline.sample import generate_world
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.tables import use_utc

pytestmark = pytest.mark.bench  # pandas, for its arm, is in the dev extra: this runs in make test

START, END = date(2026, 10, 5), date(2026, 10, 7)


@pytest.fixture(scope="module")
def tiny_world(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    generate_world(root / "inbox", root / "truth", START, END, payments_per_day=30, seed=3)
    conn = duckdb.connect(str(root / "billing.duckdb"))
    use_utc(conn)
    for offset in range(3):
        day = date.fromordinal(START.toordinal() + offset)
        for source in SOURCES:
            land_partition(conn, root / "inbox", source, day, "smoke", datetime.now(UTC))
    yield root, conn
    conn.close()


def _truth_rows(root, source: str, day: date) -> int:
    with (root / "truth" / "files.csv").open() as fh:
        return sum(
            int(row["data_rows"])
            for row in csv.DictReader(fh)
            if row["source"] == source and f"/{day.isoformat()}/" in row["path"]
            and not row["duplicate_of"]
        )  # fmt: skip


def test_floor_reads_every_event_line_the_generator_wrote(tiny_world):
    root, _ = tiny_world
    floor = read_floor(root / "inbox", END)
    # read_json skips the truncated malformed lines; the generator counts them as data rows.
    assert 0 < floor.rows["events"] <= _truth_rows(root, "events", END)
    assert floor.bytes_read > 0 and floor.seconds > 0


def test_lean_sql_and_pandas_arms_agree_on_counts_and_sums(tiny_world):
    _, conn = tiny_world
    sql, pandas = lean_sql(conn, END), pandas_script(conn, END)
    assert sql.totals() == pandas.totals()
    assert sql.leg1[0] > 0  # captures settled within the world are matched


def test_leg1_matches_never_exceed_the_truth_of_settled_lines(tiny_world):
    root, conn = tiny_world
    with (root / "truth" / "leg1_ledger_processor.csv").open() as fh:
        truth = sum(1 for _ in csv.DictReader(fh))
    assert lean_sql(conn, END).leg1[0] <= truth
