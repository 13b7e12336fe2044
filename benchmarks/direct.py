"""Time the stages this benchmark owner can fix by calling the warehouse functions directly.

`python -m benchmarks.direct <inbox> <warehouse.duckdb> <date> [<date> ...]` lands every source
of each date (land_partition), appends it to the event store (append_partition) and verifies
the hash chain as the `event_store` asset does (verify_chain: the links after the last verified
anchor, a full walk when there is none), printing seconds per step as JSON lines. No Dagster, no
dbt: this isolates parsing, validation, staging and the event store append for before/after
comparisons of performance fixes.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from billing_pipeline.warehouse.chain_verification import verify_chain
from billing_pipeline.warehouse.event_store import append_partition
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.tables import use_utc


def run(inbox: Path, database: Path, days: list[date]) -> list[dict]:
    conn = duckdb.connect(str(database))
    use_utc(conn)
    out = []
    for day in days:
        timings: dict[str, float] = {}
        for source in SOURCES:
            begin = time.perf_counter()
            land_partition(conn, inbox, source, day, run_id="bench", now=datetime.now(UTC))
            timings[f"land_{source}"] = time.perf_counter() - begin
        begin = time.perf_counter()
        report = append_partition(conn, day, "UTC", "bench", datetime.now(UTC))
        timings["append_partition"] = time.perf_counter() - begin
        begin = time.perf_counter()
        broken = verify_chain(conn, day, "bench", datetime.now(UTC))
        timings["verify_chain"] = time.perf_counter() - begin
        record = {"date": day.isoformat(), "appended": report.appended, "broken": len(broken),
                  **{k: round(v, 3) for k, v in timings.items()}}  # fmt: skip
        print(json.dumps(record), flush=True)
        out.append(record)
    conn.close()
    return out


if __name__ == "__main__":
    run(Path(sys.argv[1]), Path(sys.argv[2]), [date.fromisoformat(d) for d in sys.argv[3:]])
