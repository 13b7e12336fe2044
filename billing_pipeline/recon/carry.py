"""Carry forward the leg-1 matches of closed groups (`scope`) from the slice the run starts from.

Within a closed group nothing is new and every item was matched at P, so P's matches are the
group's matches now, and the rules never see its items: they are not even loaded. Within an
active group, an item a rule matched at P had exactly one candidate among the items still
free at that rule, none of which a later rule could have matched, so the rules reach the same
result on the group's items from scratch (tests/recon/test_incremental.py compares carried
runs with runs from scratch on random histories).

Time never moves a closed group's matches (windows only decide whether an unmatched item is
pending or open, and a group with an unmatched item is active). What a carried one-to-one
pair says about itself (amounts that differ, a late settlement) is carried with it: P's rows
about the pair, not a fresh join of every carried pair with the items.
"""

from __future__ import annotations

import duckdb

from billing_pipeline.recon.legs import PAIR_FINDINGS
from billing_pipeline.recon.matcher import execute
from billing_pipeline.recon.scope import IN_ACTIVE_GROUP, LEG

MARK = """
create or replace temp table recon_out_run_marks as
select $as_of as as_of, (select max(seq) from recon_cache.watermark) as upto_seq,
       $rules_version as rules_version, $engine as engine, $run as run_id,
       (select coalesce(max(write_no), 0) + 1 from recon_store.run_marks) as write_no
"""

# Carried matches are kept narrow: their content (evidence, size, dates) stays in
# `recon_store.match_facts` and is joined back only where it is read (`recon_out_matches`).
# Copying it for every carried match was the largest statement of a late date: on the 29th
# date of a 100k-payments-a-day backfill, 2.7M carried matches took 12.3 s to copy.
EMPTY = """
create or replace temp table recon_held (
    match_key varchar, leg varchar, rule_id varchar, rule_version integer, strategy varchar,
    left_refs varchar[], right_refs varchar[], carried boolean);
create or replace temp view recon_carried as
select * exclude (leg, carried) from recon_held where carried;
create or replace temp table recon_carried_discrepancies (
    leg varchar, type varchar, reference varchar, amount_minor bigint, currency varchar,
    window_open boolean, candidates varchar[], detail varchar);
"""
# Every match of the run, carried or made, for the steps that read a leg's pairs.
EVERY_MATCH = """
create or replace temp view recon_every_match as
select leg, rule_id, rule_version, strategy, left_refs, right_refs from recon_work_matches
union all
select 'ledger_processor', rule_id, rule_version, strategy, left_refs, right_refs
from recon_carried
"""

# The matches of the previous slice (`match_spans`: spans holding on that date), each marked
# carried or not: leg-1 matches outside the active groups are (a match's left item names its
# group); the others are made again or not at all, and so are what the slice's write changes.
_HELD = f"""
create or replace temp table recon_held as
with held as (
    select match_key from recon_store.match_spans, recon_since s
    where from_as_of <= s.as_of and coalesce(to_as_of, date '9999-12-31') >= s.as_of
),
active_keys as (
    select key from recon_cache.payment_events where {IN_ACTIVE_GROUP}
)
select f.match_key, f.leg, f.rule_id, f.rule_version, f.strategy, f.left_refs, f.right_refs,
       f.leg = '{LEG}' and f.strategy != 'manual'
           and f.left_refs[1] not in (select key from active_keys) as carried
from recon_store.match_facts f
semi join held using (match_key)
"""

# What a one-to-one pair says about itself (its amounts differ, it settled late) is a function
# of its two items and the rule set: a carried pair's findings are the previous slice's rows
# about it (`legs.ledger_processor` derives only the new pairs'). Re-deriving them joined
# every carried pair with both item tables twice.
_CARRIED_DISCREPANCIES = f"""
create or replace temp table recon_carried_discrepancies as
select d.leg, d.type, d.reference, d.amount_minor, d.currency, false as window_open,
       d.candidates, d.detail
from recon_store.discrepancies d
join recon_carried c
  on c.strategy = 'one_to_one' and d.candidates = [c.left_refs[1], c.right_refs[1]]
where d.as_of = (select as_of from recon_since) and d.leg = '{LEG}' and d.type in {PAIR_FINDINGS}
"""


def carry_matches(conn: duckdb.DuckDBPyConnection, carrying: bool) -> int:
    """List the carried leg-1 matches by key in `recon_carried` (`recon_every_match` adds them
    to the run's own); returns how many."""
    execute(conn, EMPTY)
    execute(conn, EVERY_MATCH)
    if not carrying:
        return 0
    execute(conn, _HELD)
    execute(conn, _CARRIED_DISCREPANCIES)
    return conn.execute("select count(*) from recon_carried").fetchall()[0][0]
