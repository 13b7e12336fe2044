"""Time the warehouse stages directly on a 3-day 100k-payments/day world (no Dagster, no dbt).

python benchmarks/profiles/warehouse_100k.py   # writes under /tmp/b100
"""

import resource
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import duckdb

from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.recon import load_rules, reconcile
from billing_pipeline.sample import generate_world
from billing_pipeline.warehouse.event_store import append_decisions, append_partition
from billing_pipeline.warehouse.landing import SOURCES, land_partition
from billing_pipeline.warehouse.ledger import rebuild_ledger
from billing_pipeline.warehouse.tables import use_utc

root = Path("/tmp/b100")
start = date(2026, 10, 5)
t = time.time()
generate_world(
    root / "inbox",
    root / "truth",
    start,
    start + timedelta(days=2),
    payments_per_day=100_000,
    seed=7,
)
print("generate", round(time.time() - t, 1), flush=True)
conn = duckdb.connect(str(root / "billing.duckdb"))
use_utc(conn)
now = datetime.now(UTC)
rules = load_rules("/work/main/config/recon_rules.yml")
for i in range(3):
    d = start + timedelta(days=i)
    t = time.time()
    for s in SOURCES:
        land_partition(conn, root / "inbox", s, d, "b", now)
    t1 = time.time()
    append_partition(conn, d, "UTC", "b", now)
    t2 = time.time()
    rep = reconcile(conn, d, rules, "b")
    t3 = time.time()
    append_decisions(conn, d, "b", now)
    t4 = time.time()
    print(
        d,
        "ingest",
        round(t1 - t, 1),
        "store",
        round(t2 - t1, 1),
        "recon",
        round(t3 - t2, 1),
        "decisions",
        round(t4 - t3, 1),
        dict(rep.matches_by_leg),
        flush=True,
    )
t = time.time()
r = rebuild_ledger(conn, "USD", RoundingRule.HALF_EVEN, "b", now)
print("ledger", round(time.time() - t, 1), r, flush=True)
print("maxrss MiB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024)
