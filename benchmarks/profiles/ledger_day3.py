"""Time day 3's incremental ledger step of a 3-day 100k/day world, directly (no Dagster).

python benchmarks/profiles/ledger_day3.py setup <warehouse.duckdb> <base.duckdb> <cut_seq> <day>
    Copies a warehouse whose store holds all days and builds its ledger in full up to
    `cut_seq` (the last seq of the day before), hiding the later events and rates files
    (partition_date > `day`) meanwhile: the state the day-3 run starts from.
python benchmarks/profiles/ledger_day3.py run <base.duckdb> <copy.duckdb> <cut_seq> [TOP]
    Copies the base and runs the ledger step (rebuild_ledger + journal_rebuilds_identically)
    on it, printing CPU (time.process_time: the machine is shared) and wall per phase. The
    ledger's key copies, if any, are first brought to `cut_seq`, as day 2's run left them.
    With TOP, every statement is timed too (`timed_connection`) and the TOP slowest are
    printed with the innermost phase that ran them.
"""

import json
import shutil
import sys
import time
from datetime import UTC, datetime

import duckdb

from benchmarks.profiles.ledger_phases import rounded, time_phases
from benchmarks.profiles.timed_connection import TimedConnection
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import ledger, ledger_keys
from billing_pipeline.warehouse.tables import use_utc

RULE = RoundingRule.HALF_EVEN


def setup(source: str, base: str, cut: int, day: str) -> None:
    shutil.copy(source, base)
    conn = duckdb.connect(base)
    use_utc(conn)
    conn.execute("create table main.hold_events as from store.events where seq > ?", [cut])
    conn.execute("create table main.hold_rates as from raw.rates where partition_date > ?", [day])
    conn.execute("delete from store.events where seq > ?", [cut])
    conn.execute("delete from raw.rates where partition_date > ?", [day])
    ledger.rebuild_ledger(conn, "USD", RULE, "setup", datetime.now(UTC), full=True)
    conn.execute("insert into store.events from main.hold_events order by seq")
    conn.execute("insert into raw.rates from main.hold_rates")
    conn.execute("drop table main.hold_events")
    conn.execute("drop table main.hold_rates")
    conn.close()


def _keys_at(conn: duckdb.DuckDBPyConnection, cut: int) -> None:
    ledger_keys.refresh(conn)
    conn.execute("delete from ledger_cache.event_keys where seq > ?", [cut])
    conn.execute(
        "update ledger_cache.watermark set seq = $cut, "
        "chain_hash = (select chain_hash from store.events where seq = $cut), "
        "events = (select count(*) from store.events where seq <= $cut)",
        {"cut": cut},
    )


def run(base: str, copy: str, cut: int, top: int = 0) -> dict:
    shutil.copy(base, copy)
    conn = duckdb.connect(copy)
    use_utc(conn)
    _keys_at(conn, cut)
    statements = TimedConnection(conn)
    phases = time_phases(statements)
    cpu, wall = time.process_time(), time.perf_counter()
    step = statements if top else conn
    report = ledger.rebuild_ledger(step, "USD", RULE, "bench", datetime.now(UTC))
    ok = ledger.journal_rebuilds_identically(step, "USD", RULE)
    result = {
        "mode": report.mode,
        "check": ok,
        "cpu": round(time.process_time() - cpu, 2),
        "wall": round(time.perf_counter() - wall, 2),
        "phases (cpu, wall)": rounded(phases),
    }
    conn.close()
    if top:
        print(statements.report(top))
    return result


if __name__ == "__main__":
    if sys.argv[1] == "setup":
        setup(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        top = int(sys.argv[5]) if len(sys.argv) > 5 else 0
        print(json.dumps(run(sys.argv[2], sys.argv[3], int(sys.argv[4]), top), indent=1))
