"""Land one source of one business date into a DuckDB file; print wall, CPU and peak RSS.

python benchmarks/profiles/ingest_land.py INBOX DATE SOURCE DB
(run once per source in a fresh process so that the peak RSS is that source's; run it with
main's and a branch's interpreter into two files and compare them with ingest_compare.py).
DuckDB gets the pipeline's settings: BILLING_DUCKDB_MEMORY_LIMIT caps it.
"""

import resource
import sys
import time
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb

from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config
from billing_pipeline.warehouse.landing import land_partition
from billing_pipeline.warehouse.tables import use_utc

inbox, day, source, db = Path(sys.argv[1]), date.fromisoformat(sys.argv[2]), *sys.argv[3:5]
conn = duckdb.connect(db, config=duckdb_connection_config())
use_utc(conn)
now = datetime(2026, 12, 1, tzinfo=UTC)  # fixed, so that two runs' tables can be compared
wall, cpu = time.time(), time.process_time()
report = land_partition(conn, inbox, source, day, "bench", now)
wall, cpu = time.time() - wall, time.process_time() - cpu
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
print(
    f"{source} {day} wall {wall:.2f} s cpu {cpu:.2f} s peak_rss {rss} MiB "
    f"read {report.rows_read} staged {report.rows_staged} quarantined {report.rows_quarantined}"
)
