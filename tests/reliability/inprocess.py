"""Drive landing, the event store and the ledger in this process, as the daily job does."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import audits
from billing_pipeline.warehouse.event_store import append_partition
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.ledger import rebuild_ledger

NOW = datetime(2026, 10, 8, 6, 0, tzinfo=UTC)


def deliver(inbox: Path, source: str, day: date, name: str, content: bytes) -> Path:
    folder = inbox / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_bytes(content)
    return path


def run_days(conn: duckdb.DuckDBPyConnection, inbox: Path, days: list[date]) -> None:
    """Every source of each day landed and appended, then one ledger rebuild."""
    for day in days:
        for source in SOURCES:
            land_partition(conn, inbox, source, day, f"run-{day}", NOW)
        append_partition(conn, day, "UTC", f"run-{day}", NOW)
    rebuild_ledger(conn, "USD", RoundingRule.HALF_EVEN, "run-ledger", NOW)


def invariant_violations(conn: duckdb.DuckDBPyConnection, days: list[date]) -> dict[str, list]:
    """The promises that hold whatever the input: nothing lost, every entry balanced."""
    found = {
        "nothing_lost": [
            v for day in days for s in SOURCES for v in audits.nothing_lost_violations(conn, s, day)
        ],
        "unbalanced_entries": audits.unbalanced_entries(conn),
        "orphan_lines": audits.orphan_lines(conn),
        "trial_balance": [
            o for o in audits.trial_balance_offsets(conn) if o["currency"] != "functional"
        ],
    }
    return {name: found[name] for name in found if found[name]}
