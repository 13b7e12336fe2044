"""Reconciliation's decisions as events for the ledger (`recon_out_decisions`).

Every key is built from the matched items' own keys, so the same decision made on a later run
date has the same idempotency key and the event store keeps it once. Payload fields are those
`domain.posting` books: `amount_minor`, `currency`, `bank_account`, `applied_minor`,
`overpaid_minor`, `holding_account`.
"""

from __future__ import annotations

from billing_pipeline.recon.sources import LEDGER_ITEMS, PROCESSOR_ITEMS

DECISIONS = """
create or replace temp view recon_decisions_raw as
with settled as (
    select l.payment_id, l.processor, l.processor_ref, r.key as line_key, r.amount_minor,
           r.currency, r.payout_ref,
           greatest(l.occurred_at, r.settlement_date::timestamp at time zone 'UTC') as settled_at,
           greatest(l.business_date, r.settlement_date) as settled_on
    -- (the line's payout comes with the item: joining every settlement line again for it
    -- was a third of this statement on a late backfill date)
    from recon_decided_pairs lp
    join (from recon_left_ledger_processor union all from recon_carried_lefts) l
      on l.key = lp.lkey
    join (from recon_right_ledger_processor union all from recon_carried_rights) r
      on r.key = lp.rkey
    where l.kind = 'charge'
),
pb as (
    select p.key as payout_key, p.processor, p.payout_ref, p.amount_minor as payout_minor,
           b.key as bank_key, b.account_id, b.amount_minor, b.currency, b.occurred_at,
           b.business_date
    from recon_work_matches m
    join recon_left_processor_bank p on p.key = m.left_refs[1]
    join recon_bank_lines b on b.key = m.right_refs[1]
    where m.leg = 'processor_bank' and len(m.left_refs) = 1 and len(m.right_refs) = 1
)
select 'recon:payment_settled:' || payment_id || ':' || line_key as idempotency_key,
       'payment.settled' as event_type, settled_at as occurred_at, settled_on as business_date,
       'payment' as aggregate_type, payment_id as aggregate_id,
       json_object('payment_id', payment_id, 'processor', processor,
                   'processor_ref', processor_ref, 'settlement_line_key', line_key,
                   'amount_minor', amount_minor, 'currency', currency)::varchar as payload
from settled
union all
select 'recon:payment_reconciled:' || s.payment_id, 'payment.reconciled',
       -- strictly after the settlement: equal instants would be ordered by event id
       greatest(s.settled_at + interval 1 microsecond, pb.occurred_at),
       greatest(s.settled_on, pb.business_date),
       'payment', s.payment_id,
       json_object('payment_id', s.payment_id, 'payout_key', pb.payout_key,
                   'bank_line_key', pb.bank_key)::varchar
from settled s join pb on pb.processor = s.processor and pb.payout_ref = s.payout_ref
union all
select 'recon:payout_matched:' || payout_key || ':' || bank_key, 'recon.payout_matched',
       occurred_at, business_date, 'payout', payout_ref,
       json_object('bank_account', account_id, 'bank_line_key', bank_key,
                   'payout_key', payout_key, 'payout_ref', payout_ref, 'processor', processor,
                   'amount_minor', amount_minor, 'payout_amount_minor', payout_minor,
                   'currency', currency)::varchar
from pb
union all
select 'recon:cash_applied:' || a.credit_key || ':' || a.invoice_id, 'recon.cash_applied',
       b.occurred_at, b.business_date, 'invoice', a.invoice_id,
       json_object('bank_account', a.account_id, 'bank_line_key', a.credit_key,
                   'invoice_id', a.invoice_id, 'amount_minor', a.applied_minor + a.overpaid_minor,
                   'applied_minor', a.applied_minor, 'overpaid_minor', a.overpaid_minor,
                   'currency', a.currency)::varchar
from recon_allocations a join recon_bank_lines b on b.key = a.credit_key
union all
select 'recon:write_off:' || discrepancy_id, 'recon.write_off',
       applied_at::timestamp at time zone 'UTC', applied_at, 'discrepancy', discrepancy_id,
       json_object('discrepancy_id', discrepancy_id, 'holding_account', holding_account,
                   'amount_minor', amount_minor, 'currency', currency, 'who', who,
                   'note', note)::varchar
from recon_write_offs
"""

# The leg-1 pairs decided (settled, and reconciled with their payout's bank line): the run's
# own, and the carried pairs that can decide something new (`_CARRIED_TO_DECIDE`) with their
# items, which a carrying run does not load (recon.scope).
PAIRS = """
create or replace temp table recon_decided_pairs as
select left_refs[1] as lkey, right_refs[1] as rkey from recon_work_matches
where leg = 'ledger_processor' and len(left_refs) = 1 and len(right_refs) = 1
union all
select lkey, rkey from recon_carried_to_decide;
create or replace temp table recon_carried_lefts as {lefts};
create or replace temp table recon_carried_rights as {rights};
"""
_CARRIED_LEFTS = LEDGER_ITEMS.format(
    source="(select * exclude (seq) from recon_cache.payment_events "
    "where key in (select lkey from recon_carried_to_decide))"
)
_CARRIED_RIGHTS = PROCESSOR_ITEMS.format(
    source="(select * exclude (seq) from recon_cache.settlement_lines "
    "where key in (select rkey from recon_carried_to_decide))"
)

# A carried pair decides nothing new: its items and so its settlement are what they were in
# the slice it is carried from (P), where that decision was made and then stored. It is
# decided again only when a payout match P did not have pays it out (its payment is
# reconciled now), or when P's decision about its payment is not stored as P made it (a
# conflict, or a run that stopped before storing). Deciding every carried pair again and
# dropping what the store already held was a late date's largest statement (11 s for 3.1M
# pairs on the 29th date of a 100k-payments-a-day backfill).
#
# Sound only when P's run came after any earlier run of this date: otherwise a decision this
# date stored first was left out of P's slice, and this date's slice must keep it
# (`_DATE_STORED_BEFORE_SINCE`); then every carried pair is decided again.
_CARRIED_TO_DECIDE = """
create or replace temp table recon_carried_to_decide as
with since as (select as_of, upto_seq from recon_since),
held_payouts as (
    select left_refs[1] as payout_key, right_refs[1] as bank_key from recon_held
    where leg = 'processor_bank'
),
new_payouts as (
    select p.processor, p.payout_ref from recon_work_matches m
    join recon_left_processor_bank p on p.key = m.left_refs[1]
    where m.leg = 'processor_bank' and len(m.left_refs) = 1 and len(m.right_refs) = 1
      and (m.left_refs[1], m.right_refs[1]) not in (select (payout_key, bank_key)
                                                    from held_payouts)
),
unstored as (
    select d.aggregate_id as payment_id from recon_store.decisions d, since
    where d.as_of = since.as_of and d.aggregate_type = 'payment'
      and (d.idempotency_key, d.payload) not in (
          select (idempotency_key, payload) from store.events, since
          where partition_date = since.as_of and source = 'recon')
),
redecided as (
    select s.key from recon_cache.settlement_lines s semi join new_payouts n
        on n.processor = s.processor and n.payout_ref = s.payout_ref
    union
    select key from recon_cache.payment_events
    where payment_id in (select payment_id from unstored)
)
select c.left_refs[1] as lkey, c.right_refs[1] as rkey from recon_carried c
where len(c.left_refs) = 1 and len(c.right_refs) = 1
  and ({every}
       or c.right_refs[1] in (select key from redecided)
       or c.left_refs[1] in (select key from redecided))
"""

_DATE_STORED_BEFORE_SINCE = """
select count(*) from store.events, recon_since s
where partition_date = $as_of and source = 'recon' and seq <= s.upto_seq
"""


def decided_pairs(conn, as_of) -> None:
    """`recon_decided_pairs`: the leg-1 pairs whose decisions this run makes."""
    carrying = conn.execute("select count(*) from recon_since").fetchone()[0]
    early = carrying and conn.execute(_DATE_STORED_BEFORE_SINCE, {"as_of": as_of}).fetchone()[0]
    conn.execute(_CARRIED_TO_DECIDE.format(every="true" if early else "false"))
    conn.execute(PAIRS.format(lefts=_CARRIED_LEFTS, rights=_CARRIED_RIGHTS))
