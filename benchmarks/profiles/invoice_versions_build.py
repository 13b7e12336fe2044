"""A first build of the invoice versions on a warehouse, in a fresh process: wall, CPU, peak RSS.

python benchmarks/profiles/invoice_versions_build.py WAREHOUSE frame|relation [BATCH_ROWS]

`frame` folds every invoice into one polars frame (`versions_frame`, what the dbt model
returned until session 15); `relation` folds them a bucket at a time into a temp table
(`versions_relation`, what it returns now; BATCH_ROWS history rows a bucket, default
`BATCH_HISTORY_ROWS`) and counts the rows. Both read the warehouse only.
DuckDB gets the pipeline's settings (BILLING_DUCKDB_MEMORY_LIMIT), as dbt's profile does.
"""

import resource
import sys
import time

import duckdb

from billing_pipeline.receivables.version_builds import (
    BATCH_HISTORY_ROWS,
    EVERYTHING,
    versions_frame,
    versions_relation,
)
from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config

if __name__ == "__main__":
    path, how = sys.argv[1:3]
    conn = duckdb.connect(path, config=duckdb_connection_config())
    wall, cpu = time.time(), time.process_time()
    if how == "frame":
        versions = versions_frame(conn, EVERYTHING)
        rows, invoices = versions.height, versions["invoice_id"].n_unique()
    else:
        batch = int(sys.argv[3]) if len(sys.argv) > 3 else BATCH_HISTORY_ROWS
        versions = versions_relation(conn, EVERYTHING, batch)
        [(rows, invoices)] = versions.aggregate("count(*), count(distinct invoice_id)").fetchall()
    wall, cpu = time.time() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"{how}: {rows} versions of {invoices} invoices, wall {wall:.1f} s cpu {cpu:.1f} s "
          f"peak_rss {rss} MiB")  # fmt: skip
