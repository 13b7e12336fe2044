"""Land every source of one business date into a new DuckDB file, one by one or side by side;
print wall and CPU seconds and the rows each source staged.

python benchmarks/profiles/land_side_by_side.py INBOX DATE DB WORKERS

WORKERS 1 lands the sources one after another (the daily job before session 28); 2 lands them
side by side on a 2-core machine (`warehouse.land_sources`). Run 1 and 2 alternately, each into
a file that does not exist yet, to compare them (benchmarks/RESULTS.md, session 28). DuckDB
gets the pipeline's settings: BILLING_DUCKDB_MEMORY_LIMIT caps it.
"""

import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config
from billing_pipeline.warehouse.land_sources import land_sources
from billing_pipeline.warehouse.landing import SOURCES
from billing_pipeline.warehouse.tables import use_utc


def main(inbox: Path, day: date, database: str, workers: int) -> None:
    if Path(database).exists():
        raise SystemExit(f"{database} exists: each run lands into a new file")
    conn = duckdb.connect(database, config=duckdb_connection_config())
    use_utc(conn)
    now = datetime(2026, 12, 1, tzinfo=UTC)  # fixed, so that two runs' tables can be compared
    wall, cpu = time.perf_counter(), time.process_time()
    landings = land_sources(conn, inbox, list(SOURCES), day, "bench", now, workers=workers)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    staged = {
        landing.source: landing.report.rows_staged if landing.report else repr(landing.error)
        for landing in landings
    }
    print(f"workers {workers} wall {wall:.2f} s cpu {cpu:.2f} s staged {staged}")


if __name__ == "__main__":
    main(Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), sys.argv[3], int(sys.argv[4]))
