# ruff: noqa: E501  (a reproduction script: SQL kept on the lines EXPLAIN shows)
"""Reproduce the recon join measurements of RESULTS.md on a landed warehouse (a copy!).

    python -m benchmarks.profiles.recon_joins <copy of billing.duckdb> <YYYY-MM-DD>

Shows the coalesce-wrapped equi-join (nested loop) against the plain one, and the
unnest + equi-join form of the invoice-number regex rule. Read-write: use a copy.
"""

import re
import sys
import time
from datetime import date

import duckdb

from billing_pipeline import settings
from billing_pipeline.recon import legs, load_rules, matcher, sources, store
from billing_pipeline.recon.criteria import install_macros, rule_predicate
from billing_pipeline.warehouse.tables import use_utc

conn = duckdb.connect(sys.argv[1])
use_utc(conn)
store.ensure_tables(conn)
install_macros(conn)
sources.load_sources(conn, date.fromisoformat(sys.argv[2]))
conn.execute(legs.ITEMS)
matcher.reset_work(conn)
legs.prepare(conn)
rules = {
    r.id: r
    for leg in ("bank_invoice",)
    for r in load_rules(settings.recon_rules_path()).for_leg(leg)
}
rule = rules["bi-invoice-number"]
print("predicate:", rule_predicate(rule.criteria))
print(
    "left",
    conn.execute("select count(*) from recon_left_bank_invoice").fetchone(),
    "right",
    conn.execute("select count(*) from recon_right_bank_invoice").fetchone(),
)
t = time.perf_counter()
now = conn.execute(f"""select count(*) from recon_left_bank_invoice l join recon_right_bank_invoice r
    on {rule_predicate(rule.criteria)}""").fetchone()
print("as written:", now, round(time.perf_counter() - t, 1), "s")
t = time.perf_counter()
new = conn.execute("""
    with tokens as (
        select distinct l.key, l.currency, t.token
        from recon_left_bank_invoice l,
             unnest(regexp_extract_all(l.remittance_info, '(?i)INV[\\s:#.-]*0*(\\d+)', 1)) as t(token))
    select count(*) from tokens l join recon_right_bank_invoice r
      on r.invoice_digits = l.token and r.currency = l.currency""").fetchone()
print("unnest + equi-join:", new, round(time.perf_counter() - t, 2), "s")
rule = {r.id: r for r in load_rules(settings.recon_rules_path()).for_leg("ledger_processor")}[
    "lp-reference-exact"
]
pred = rule_predicate(rule.criteria)
print("lp predicate:", pred)
q = f"select count(*) from recon_left_ledger_processor l join recon_right_ledger_processor r on {pred}"
plan = conn.execute("explain " + q).fetchall()[0][1]
print(
    "join operators as written:",
    [
        op
        for op in (
            "NESTED_LOOP_JOIN",
            "BLOCKWISE_NL_JOIN",
            "PIECEWISE_MERGE_JOIN",
            "HASH_JOIN",
            "CROSS_PRODUCT",
        )
        if op in plan
    ],
)

plain = re.sub(r"coalesce\(\((r\.\w+ = l\.\w+)\), false\)", r"\1", pred)
print("plain predicate:", plain)
q2 = f"select count(*) from recon_left_ledger_processor l join recon_right_ledger_processor r on {plain}"
plan = conn.execute("explain " + q2).fetchall()[0][1]
print(
    "join operators plain:",
    [
        op
        for op in (
            "NESTED_LOOP_JOIN",
            "BLOCKWISE_NL_JOIN",
            "PIECEWISE_MERGE_JOIN",
            "HASH_JOIN",
            "CROSS_PRODUCT",
        )
        if op in plan
    ],
)
t = time.perf_counter()
print("plain:", conn.execute(q2).fetchone(), round(time.perf_counter() - t, 2), "s")
print(
    "left",
    conn.execute("select count(*) from recon_left_ledger_processor").fetchone(),
    "right",
    conn.execute("select count(*) from recon_right_ledger_processor").fetchone(),
)
