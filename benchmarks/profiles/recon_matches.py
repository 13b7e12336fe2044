# ruff: noqa: E501  (a reproduction script: SQL kept on the lines EXPLAIN shows)
"""The `recon.outputs.matches` sizing as written vs unnest + join, on a landed warehouse copy.

    python -m benchmarks.profiles.recon_matches <copy of billing.duckdb> <YYYY-MM-DD>

Builds leg-1 matches with the plain hash join, then sizes 1,000 of them both ways (checks the
rows are identical) and all of them the proposed way.
"""

import sys
import time
from datetime import date

import duckdb

from billing_pipeline.recon import legs, sources, store
from billing_pipeline.recon.criteria import install_macros
from billing_pipeline.warehouse.tables import use_utc

conn = duckdb.connect(sys.argv[1])
use_utc(conn)
store.ensure_tables(conn)
install_macros(conn)
sources.load_sources(conn, date.fromisoformat(sys.argv[2]))
conn.execute(legs.ITEMS)
conn.execute("""create or replace temp table m_all as
  select row_number() over () as mid, [l.key] as left_refs, [r.key] as right_refs
  from recon_left_ledger_processor l join recon_right_ledger_processor r
  on r.processor = l.processor and r.processor_ref = l.processor_ref and r.kind = l.kind
     and r.currency = l.currency and r.amount_minor = l.amount_minor""")
AS_WRITTEN = """select mid,
   (select sum(i.amount_minor) from recon_items i where list_contains(m.left_refs, i.key)) as amount_minor,
   (select min(i.currency) from recon_items i where list_contains(m.left_refs, i.key)) as currency,
   (select max(i.business_date) from recon_items i where list_contains(m.left_refs || m.right_refs, i.key)) as matched_on
 from {m} m order by mid"""
REWRITE = """with refs as (
    select distinct mid, key, is_left from (
        select mid, unnest(left_refs) as key, true as is_left from {m}
        union all select mid, unnest(right_refs), false from {m})),
 sized as (
    select r.mid, sum(i.amount_minor) filter (where r.is_left) as amount_minor,
           min(i.currency) filter (where r.is_left) as currency,
           max(i.business_date) as matched_on
    from refs r join recon_items i using (key) group by r.mid)
 select m.mid, s.amount_minor, s.currency, s.matched_on from {m} m left join sized s using (mid) order by mid"""
n_all = conn.execute("select count(*) from m_all").fetchone()[0]
conn.execute("create or replace temp table m_small as select * from m_all where mid <= 1000")
t = time.perf_counter()
a = conn.execute(AS_WRITTEN.format(m="m_small")).fetchall()
ta = time.perf_counter() - t
t = time.perf_counter()
b = conn.execute(REWRITE.format(m="m_small")).fetchall()
tb = time.perf_counter() - t
print("1000 matches: as written", round(ta, 2), "s; rewrite", round(tb, 3), "s; identical:", a == b)
t = time.perf_counter()
c = conn.execute(REWRITE.format(m="m_all")).fetchall()
tc = time.perf_counter() - t
print(f"all {n_all} matches: rewrite {tc:.2f} s; as written extrapolated {ta * n_all / 1000:.0f} s")
