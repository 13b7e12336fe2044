"""Which leg-1 groups a run reconciles again; every other group is carried whole (`carry`).

Leg 1 (ledger <-> processor) is where the volume is: every capture and every settlement line
ever seen. When every leg-1 rule requires the same processor and processor reference on both
sides, the leg splits into independent groups, one per (processor, processor_ref): an item
can only ever be a candidate of items in its own group, so a group's matches, ambiguities and
leftovers are a function of the group's items (and of the controllers' manual matches) alone.

A run for date D therefore starts from the latest earlier slice P written by this engine and
rule set (`recon_store.run_marks` remembers the last stored event P's run had read). A group is
*active* at D, and its items are loaded and matched again, when:
- one of its events is visible at D but was not at P: business date in (P, D], or stored
  after P's run with a business date up to D (late files, re-landed dates);
- it holds an event of a payment that has such an event (a payment event of any kind can
  change which of its payment's captures, refunds and disputes are legal);
- P reported one of its items (unmatched, ambiguous, duplicate, manually matched, resolved
  by a controller: anything but a finding about a matched pair or an item that cleared by
  itself), so its windows and resolutions are looked at again;
- a manual-match resolution names one of its items.

Every other group is *closed*: nothing about it is new, and at P all its items were matched.
It is what it was at P: its matches and what they say about themselves are carried, and its
items are never read. On a late backfill date that is ~3M matched items against a few hundred
thousand active ones. Items without a processor or reference belong to no group and are
always loaded (they never match under an equality).
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

SINCE_DDL = """
-- The slice this run carries from (none: every group is reconciled from all history).
create or replace temp table recon_since (as_of date, upto_seq bigint);
"""

_NEW = "business_date <= $as_of and (business_date > $since_date or seq > $since_seq)"

_ACTIVE_GROUPS = f"""
create or replace temp table recon_active_groups as
with new_payment_events as (
    select payment_id, processor, processor_ref from recon_cache.payment_events where {_NEW}
),
reported as (
    select reference as key from recon_store.discrepancies
    where as_of = $since_date and leg = '{LEG}' and type not in {PAIR_FINDINGS}
      -- (a row that cleared by itself is about an item no longer unmatched)
      and not (status = 'resolved' and coalesce(resolution, '') like 'auto:%')
    union
    select unnest(refs) from recon_resolutions where action = 'manual_match'
)
select processor, processor_ref from new_payment_events
union
select processor, processor_ref from recon_cache.payment_events
where payment_id in (select payment_id from new_payment_events)
union
select processor, processor_ref from recon_cache.settlement_lines where {_NEW}
union
select processor, processor_ref from recon_cache.payment_events
where key in (select key from reported)
union
select processor, processor_ref from recon_cache.settlement_lines
where key in (select key from reported)
"""

# Whose payment events decide legality this run: every payment with an event in an active
# group, and every payment of an invoice (what invoices were paid by card, for leg 3).
_ACTIVE_PAYMENTS = """
create or replace temp table recon_active_payments as
select payment_id from recon_cache.payment_events e
where (processor, processor_ref) in (select (processor, processor_ref) from recon_active_groups)
   or processor is null or processor_ref is null
union
select payment_id from recon_cache.payment_events where invoice_id is not null
"""

# SQL: the row (with `processor` and `processor_ref`) is in an active group or in none.
IN_ACTIVE_GROUP = (
    "(processor is null or processor_ref is null or (processor, processor_ref) in "
    "(select (processor, processor_ref) from recon_active_groups))"
)


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


def scope_run(conn: duckdb.DuckDBPyConnection, as_of: date, rules: RuleSet) -> bool:
    """Fill `recon_since` and the active groups and payments; False: reconcile everything."""
    execute(conn, SINCE_DDL)
    if not partitions_by_reference(rules):
        return False
    since = conn.execute(
        "select as_of, upto_seq from recon_store.run_marks where as_of < ? "
        "and rules_version = ? and engine = ? order by as_of desc limit 1",
        [as_of, rules.version, ENGINE],
    ).fetchall()
    if not since or since[0][1] is None:
        return False
    params = {"as_of": as_of, "since_date": since[0][0], "since_seq": since[0][1]}
    execute(conn, "insert into recon_since values ($since_date, $since_seq)", params)
    execute(conn, _ACTIVE_GROUPS, params)
    execute(conn, _ACTIVE_PAYMENTS)
    return True
