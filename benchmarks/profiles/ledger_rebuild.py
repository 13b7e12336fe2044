"""Time a rebuild of the ledger from empty, in place, as a backfill's last date builds it.

python benchmarks/profiles/ledger_rebuild.py <warehouse.duckdb> [TOP] [--cold-keys]

Empties the ledger and folds every stored event again in chunks (`rebuild_ledger(full=True)`),
then runs the step's audit (`journal_rebuilds_identically`), printing CPU and wall per phase
and, with TOP, the TOP costliest statements. `--cold-keys` drops the ledger's key copies
first: in a backfill no earlier date ran the ledger, so the last date copies every event's
keys. The ledger's table hashes (`ledger_hash`) are taken before and after and printed
(`unchanged`): a rebuild by the same code must leave them as they were, and so must a faster
version of it.
"""

import json
import sys
import time
from datetime import UTC, datetime

import duckdb

from benchmarks.profiles.ledger_hash import table_hashes
from benchmarks.profiles.ledger_phases import rounded, time_phases
from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import ledger
from billing_pipeline.warehouse.tables import use_utc

RULE = RoundingRule.HALF_EVEN


def run(warehouse: str, top: int = 0, cold_keys: bool = False) -> dict:
    conn = duckdb.connect(warehouse)
    use_utc(conn)
    before = table_hashes(conn)
    if cold_keys:
        conn.execute("drop schema if exists ledger_cache cascade")
    statements = TimedConnection(conn)
    phases = time_phases(statements)
    cpu, wall = time.process_time(), time.perf_counter()
    step = statements if top else conn
    report = ledger.rebuild_ledger(step, "USD", RULE, "bench", datetime.now(UTC), full=True)
    ok = ledger.journal_rebuilds_identically(step, "USD", RULE)
    result = {
        "mode": report.mode,
        "reason": report.reason,
        "check": ok,
        "cpu": round(time.process_time() - cpu, 2),
        "wall": round(time.perf_counter() - wall, 2),
        "phases (cpu, wall)": rounded(phases),
    }
    after = table_hashes(conn)
    result["unchanged"] = after == before
    for table, (rows, total) in after.items():
        print(f"{table:20} {rows:>12,} {total}")
    conn.close()
    if top:
        print(statements.report(top))
    return result


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    top = int(args[1]) if len(args) > 1 else 0
    print(json.dumps(run(args[0], top, "--cold-keys" in sys.argv), indent=1))
