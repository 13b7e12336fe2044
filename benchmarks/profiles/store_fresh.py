"""Append one landed date to an empty event store, in a fresh process; print wall, CPU, peak RSS.

python benchmarks/profiles/store_fresh.py extract WAREHOUSE DAY LANDED
python benchmarks/profiles/store_fresh.py append LANDED DAY RUN_DB
python benchmarks/profiles/store_fresh.py verify RUN_DB

`extract` copies the staged rows (`raw.*`) and file registry of DAY from a benchmark
warehouse into a new file LANDED, with an empty store. `append` copies LANDED to RUN_DB and
appends DAY to its store as the pipeline does, window commits and all, so the peak RSS is the
append's own. DuckDB gets the pipeline's settings: BILLING_DUCKDB_MEMORY_LIMIT caps it, and its
spill goes beside RUN_DB. Run `append` with two checkouts on `PYTHONPATH` to compare them:
equal chain ends mean they stored the same events in the same order. `verify` times the
check of the whole chain of RUN_DB (`chain_violations`), as a first day's check runs it.
"""

import resource
import shutil
import sys
import time
from datetime import UTC, date, datetime

import duckdb

from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config
from billing_pipeline.warehouse.event_store import append_partition, chain_violations
from billing_pipeline.warehouse.tables import ensure_schema, use_utc

NOW = datetime(2026, 12, 1, tzinfo=UTC)  # fixed: the stored rows do not depend on the clock


def extract(warehouse: str, day: date, landed: str) -> None:
    conn = duckdb.connect(landed)
    ensure_schema(conn)
    conn.execute(f"attach '{warehouse}' as source (read_only)")
    tables = conn.execute(
        "select table_name from duckdb_tables() where database_name = 'source' "
        "and schema_name = 'raw'"
    ).fetchall()
    for (table,) in tables:
        conn.execute(
            f"insert into raw.{table} select * from source.raw.{table} where partition_date = ?",
            [day],
        )
    conn.execute("insert into ingest.file_registry select * from source.ingest.file_registry")
    conn.close()


def append(landed: str, day: date, run_db: str) -> None:
    shutil.copyfile(landed, run_db)
    conn = duckdb.connect(run_db, config=duckdb_connection_config())
    use_utc(conn)
    wall, cpu = time.time(), time.process_time()
    report = append_partition(conn, day, "UTC", "bench", NOW)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    ((last,),) = conn.execute(
        "select chain_hash from store.events order by seq desc limit 1"
    ).fetchall()
    print(f"append {day} wall {wall:.1f} s cpu {cpu:.1f} s peak_rss {rss} MiB {report}")
    print(f"chain ends {last}")


def verify(run_db: str) -> None:
    conn = duckdb.connect(run_db, config=duckdb_connection_config())
    wall, cpu = time.time(), time.process_time()
    violations = chain_violations(conn)
    wall, cpu = time.time() - wall, time.process_time() - cpu
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(f"verify wall {wall:.1f} s cpu {cpu:.1f} s peak_rss {rss} MiB violations {violations}")


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "verify":
        verify(*args)
    else:
        source, day, target = args
        {"extract": extract, "append": append}[command](source, date.fromisoformat(day), target)
