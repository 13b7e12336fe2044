"""Carry forward leg-1 matches nothing new can change, instead of matching all history again.

Leg 1 (ledger <-> processor) is where the volume is: every capture and every settlement line
ever seen. When every leg-1 rule requires the same processor and processor reference on both
sides, the leg splits into independent groups, one per (processor, processor_ref): an item
can only ever be a candidate of items in its own group, so a group's matches, ambiguities and
leftovers are a function of the group's items (and of the controllers' manual matches) alone.

A run for date D therefore starts from the latest earlier slice P written by this engine and
rule set (`recon_store.run_marks` remembers the last stored event P's run had read). A group is
*touched* when one of its events is visible at D but was not at P: business date in (P, D], or
stored after P's run with a business date up to D (late files, re-landed dates); a payment
event of any kind touches its group (it can change which captures are legal); and a group a
manual-match resolution names is always touched. P's leg-1 matches in untouched groups are
carried: recorded as matches and their items consumed before the rules run, so the rules see
only the other items. Within a group, an item a rule matched at P had exactly one candidate
among the items still free at that rule, none of which a later rule could have matched, so
the rules reach the same result on the items left free (tests/recon/test_incremental.py
compares carried runs with runs from scratch on random histories).

Time never moves an untouched group's matches (windows only decide whether an unmatched item
is pending or open, and unmatched items are never carried). What a carried one-to-one pair
says about itself (amounts that differ, a late settlement) is carried with it: P's rows about
the pair, not a fresh join of every carried pair with the items.
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.recon.legs import PAIR_FINDINGS
from billing_pipeline.recon.matcher import execute
from billing_pipeline.recon.rules import RuleSet

# Bump when a change to matching would make an older slice a wrong starting point.
ENGINE = "recon-1"
LEG = "ledger_processor"
_GROUP_KEYS = ("processor", "processor_ref")

MARK = """
create or replace temp table recon_out_run_marks as
select $as_of as as_of, (select max(seq) from recon_cache.watermark) as upto_seq,
       $rules_version as rules_version, $engine as engine, $run as run_id
"""

# Carried matches are kept narrow: their content (evidence, size, dates) stays in
# `recon_store.match_facts` and is joined back only where it is read (`recon_out_matches`).
# Copying it for every carried match was the largest statement of a late date: on the 29th
# date of a 100k-payments-a-day backfill, 2.7M carried matches took 12.3 s to copy.
EMPTY = """
create or replace temp table recon_carried (
    match_key varchar, rule_id varchar, rule_version integer, strategy varchar,
    left_refs varchar[], right_refs varchar[]);
create or replace temp table recon_carried_discrepancies (
    leg varchar, type varchar, reference varchar, amount_minor bigint, currency varchar,
    window_open boolean, candidates varchar[], detail varchar);
-- The slice this run carries from (none: every match is the run's own).
create or replace temp table recon_since (as_of date, upto_seq bigint);
"""
# Every match of the run, carried or made, for the steps that read a leg's pairs.
EVERY_MATCH = """
create or replace temp view recon_every_match as
select leg, rule_id, rule_version, strategy, left_refs, right_refs from recon_work_matches
union all
select 'ledger_processor', rule_id, rule_version, strategy, left_refs, right_refs
from recon_carried
"""

_TOUCHED = """
create or replace temp table recon_touched_groups as
select processor, processor_ref from recon_cache.payment_events
where business_date <= $as_of and (business_date > $since_date or seq > $since_seq)
union
select processor, processor_ref from recon_cache.settlement_lines
where business_date <= $as_of and (business_date > $since_date or seq > $since_seq)
union
select i.processor, i.processor_ref
from (select unnest(refs) as key from recon_resolutions where action = 'manual_match') r
join (select key, processor, processor_ref from recon_left_ledger_processor
      union all
      select key, processor, processor_ref from recon_right_ledger_processor) i using (key)
"""

# The leg-1 matches of the previous slice (`match_spans`: spans holding on that date).
_CARRIED = """
create or replace temp table recon_carried as
with held as (
    select match_key from recon_store.match_spans
    where from_as_of <= $since_date and coalesce(to_as_of, date '9999-12-31') >= $since_date
)
select f.match_key, f.rule_id, f.rule_version, f.strategy, f.left_refs, f.right_refs
from recon_store.match_facts f
semi join held using (match_key)
join recon_left_ledger_processor l on l.key = f.left_refs[1]
-- (items with no reference never match under an equality: no null groups to carry)
anti join recon_touched_groups t
    on t.processor = l.processor and t.processor_ref = l.processor_ref
where f.leg = 'ledger_processor' and f.strategy != 'manual'
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
where d.as_of = $since_date and d.leg = '{LEG}' and d.type in {PAIR_FINDINGS}
"""


def partitions_by_reference(rules: RuleSet) -> bool:
    """Every leg-1 rule demands equal processor and processor_ref on both sides."""
    needed = {f"right.{k}": f"left.{k}" for k in _GROUP_KEYS}
    for rule in rules.for_leg(LEG):
        found = {
            c.field: c.values[0]
            for c in rule.criteria
            if c.operator == "equals" and len(c.values) == 1 and c.pattern is None
        }
        if any(found.get(field) != value for field, value in needed.items()):
            return False
    return True


def carry_matches(conn: duckdb.DuckDBPyConnection, as_of: date, rules: RuleSet) -> int:
    """Consume the items of the carried leg-1 matches, listed by key in `recon_carried`
    (`recon_every_match` adds them to the run's own); returns how many."""
    execute(conn, EMPTY)
    execute(conn, EVERY_MATCH)
    if not partitions_by_reference(rules):
        return 0
    since = conn.execute(
        "select as_of, upto_seq from recon_store.run_marks where as_of < ? "
        "and rules_version = ? and engine = ? order by as_of desc limit 1",
        [as_of, rules.version, ENGINE],
    ).fetchall()
    if not since or since[0][1] is None:
        return 0
    params = {"as_of": as_of, "since_date": since[0][0], "since_seq": since[0][1]}
    execute(conn, "insert into recon_since values ($since_date, $since_seq)", params)
    execute(conn, _TOUCHED, params)
    execute(conn, _CARRIED, params)
    execute(conn, _CARRIED_DISCREPANCIES, params)
    execute(
        conn,
        "insert into recon_consumed select distinct key, $leg, rule_id, 'matched' from ("
        "select unnest(left_refs || right_refs) as key, rule_id from recon_carried)",
        {"leg": LEG},
    )
    return conn.execute("select count(*) from recon_carried").fetchall()[0][0]
