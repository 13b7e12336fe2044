"""The recon asset's work for a warehouse's latest run date with its real commits, on a copy.

    python benchmarks/profiles/recon_commits.py <billing.duckdb> <copy.duckdb> [TOP]

`recon_step.py` replays the work inside a transaction that is rolled back, so it never pays
for writing: its commits, DuckDB's checkpoints and the close. This one copies the warehouse,
commits the rewind (`recon_step.rewind`) in a first connection, then runs the asset's work
(`reconcile` and `append_decisions`) in a fresh connection with the pipeline's settings, as a
Dagster step would open it, timing every statement (commits included) and the close. The
copy is left behind for a second look; delete it after.
"""

import shutil
import sys
import time
from datetime import UTC, datetime

import duckdb

from benchmarks.profiles.recon_step import rewind
from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline import settings
from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config
from billing_pipeline.warehouse.event_store import append_decisions
from billing_pipeline.warehouse.tables import use_utc


def main(warehouse: str, copy: str, top: int) -> None:
    shutil.copy(warehouse, copy)
    conn = duckdb.connect(copy)
    use_utc(conn)
    conn.execute("begin transaction")
    as_of = rewind(conn)
    conn.execute("commit")
    conn.execute("checkpoint")
    conn.close()

    wall = time.perf_counter()
    conn = duckdb.connect(copy, config=duckdb_connection_config())
    use_utc(conn)
    timed = TimedConnection(conn)
    rules = load_rules(settings.recon_rules_path())
    resolutions = settings.resolutions_dir()
    phases = {}
    for phase, work in (
        ("reconcile", lambda: reconcile(timed, as_of, rules, "profile", resolutions)),
        ("append_decisions", lambda: append_decisions(timed, as_of, "profile", datetime.now(UTC))),
        ("close", conn.close),
    ):
        timed.phase = phase
        start = time.perf_counter()
        work()
        phases[phase] = round(time.perf_counter() - start, 2)
    phases["all"] = round(time.perf_counter() - wall, 2)
    print(as_of, phases)
    print(timed.report(top))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]) if len(sys.argv) > 3 else 30)
