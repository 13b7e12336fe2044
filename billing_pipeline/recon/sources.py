"""The items each leg reconciles, read from `store.events` as of a date into temp tables.

Every item has a `key` (the event's idempotency key, or the invoice id) that is unique across
all legs, so one table of consumed keys can enforce "each bank line is used at most once".

Facts the lifecycle would refuse are not reconciled: a capture after the payment failed or
was voided, or a refund/dispute of a payment never (legally) captured, is the ledger's
quarantine concern (an illegal transition), not money the processor owes us.
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.recon.scope import IN_ACTIVE_GROUP

# Captures the lifecycle accepts: authorized first, never failed or voided before. The
# earliest authorization, failure and legal capture of each payment decide it (no
# per-event lookups).
# A scoped run reads its active payments' events once, into a buffer the three uses share:
# scanning the whole history's copies three times for them was a cost that grew with every
# date (the 30th date of a 100k-payments-a-day backfill: 1.0-1.4 s against 1.8-2.0 s, its
# 764k events of 6.4M). Where most events are active (day 3 of a 1M-payments-a-day world,
# 4.9M of 5.8M) it costs about what the scans did, also with DuckDB capped at 1.5 GB
# (benchmarks/RESULTS.md, session 35). A run over everything is not buffered: a buffer of
# every event as of the date cost more than the scans it saved (5.2 s against 2.5 s at 1M).
_LEGAL_PAYMENT_EVENTS = """
create or replace temp table recon_legal_payment_events as
with events as {buffered} (
    select * exclude (seq) from recon_cache.payment_events
    where business_date <= $as_of and payment_id is not null and {payments}
),
firsts as (
    select payment_id,
           min(occurred_at) filter (where event_type = 'payment.authorized') as authorized_at,
           min(occurred_at) filter (where event_type in ('payment.failed', 'payment.voided'))
               as stopped_at
    from events
    group by payment_id
),
captures as (
    select c.* from events c join firsts f using (payment_id)
    where c.event_type = 'payment.captured'
      and f.authorized_at <= c.occurred_at
      and not coalesce(f.stopped_at <= c.occurred_at, false)
),
first_capture as (
    select payment_id, min(occurred_at) as captured_at from captures group by payment_id
)
select * from captures
union all
select e.* from events e join first_capture c using (payment_id)
where e.event_type in ('payment.refunded', 'payment.dispute_opened', 'payment.dispute_won')
  and c.captured_at <= e.occurred_at
"""

# A ledger item from a payment event; `source` has the payment events' columns.
LEDGER_ITEMS = """
select key, payment_id, processor, processor_ref,
       case event_type when 'payment.captured' then 'charge' when 'payment.refunded' then 'refund'
            when 'payment.dispute_opened' then 'chargeback'
            else 'chargeback_reversal' end as kind,
       amount_minor, currency, business_date, occurred_at
from {source}
where processor is not null and processor != 'bank_transfer'
"""

# A view, not a copy: the processor items and the payout sums each read it once.
_SETTLEMENT_LINES = """
create or replace temp view recon_settlement_lines as
select * exclude (seq) from recon_cache.settlement_lines where business_date <= {as_of}
"""

# Amounts in the charge currency, signed like the ledger event (a refund of 5 is +5); `source`
# has the settlement lines' columns.
PROCESSOR_ITEMS = """
select key, processor, processor_ref, line_type as kind, line_ref, merchant_ref,
       case when line_type in ('refund', 'chargeback') then -1 else 1 end
           * coalesce(original_minor, gross_minor) as amount_minor,
       coalesce(original_currency, currency) as currency,
       business_date, coalesce(available_on, business_date) as settlement_date,
       currency as settlement_currency, gross_minor, fee_minor, net_minor, occurred_at,
       payout_ref
from {source}
where line_type in ('charge', 'refund', 'chargeback', 'chargeback_reversal')
"""

_PAYOUTS = """
create or replace temp table recon_left_processor_bank as
select * exclude (seq) from recon_cache.payouts where business_date <= $as_of
"""

_BANK_LINES = """
create or replace temp table recon_bank_lines as
select * exclude (seq) from recon_cache.bank_lines where business_date <= $as_of
"""

# Invoices that can receive cash: sent, not voided or written off, with what is still due
# before any bank transfer (amount - credit notes - legal card captures).
_INVOICES = """
create or replace temp table recon_invoices as
with ev as (
    select * from recon_cache.invoice_events where business_date <= $as_of
),
card as (
    select invoice_id, currency, sum(case when event_type = 'payment.captured' then amount_minor
                                      when event_type = 'payment.refunded' then -amount_minor
                                      else 0 end) as paid_minor
    from recon_legal_payment_events where invoice_id is not null
    group by all
),
inv as (
    select invoice_id,
           arg_max(invoice_number, seq) filter (where invoice_number is not null) as invoice_number,
           arg_max(customer_id, seq) as customer_id, arg_max(currency, seq) as currency,
           arg_max(due_date, seq) filter (where due_date is not null) as due_date,
           arg_max(amount_minor, seq) filter (where event_type = 'invoice.sent') as amount_minor,
           min(business_date) filter (where event_type = 'invoice.sent') as business_date,
           coalesce(sum(amount_minor) filter (where event_type = 'invoice.credit_note_issued'), 0)
               as credited_minor,
           bool_or(event_type in ('invoice.voided', 'invoice.written_off')) as closed
    from ev group by invoice_id
)
select inv.invoice_id as key, inv.invoice_id, inv.invoice_number,
       nullif(regexp_extract(inv.invoice_number, '0*(\\d+)$', 1), '') as invoice_digits,
       inv.customer_id, inv.currency, inv.due_date, inv.business_date,
       inv.amount_minor - inv.credited_minor - coalesce(card.paid_minor, 0) as due_minor
from inv left join card on card.invoice_id = inv.invoice_id and card.currency = inv.currency
where inv.amount_minor is not null and not inv.closed
"""


def load_sources(conn: duckdb.DuckDBPyConnection, as_of: date, scoped: bool = False) -> None:
    """The items of every leg as of `as_of`; `scoped`: leg 1's only from the active groups
    (`scope.scope_run`), the other legs' whole."""
    payments = "payment_id in (select payment_id from recon_active_payments)" if scoped else "true"
    groups = IN_ACTIVE_GROUP if scoped else "true"
    steps = (
        _LEGAL_PAYMENT_EVENTS.format(
            payments=payments, buffered="materialized" if scoped else "not materialized"
        ),
        "create or replace temp table recon_left_ledger_processor as "
        + LEDGER_ITEMS.format(source="recon_legal_payment_events")
        + f" and {groups}",
        _SETTLEMENT_LINES.format(as_of=f"date '{as_of.isoformat()}'"),
        "create or replace temp table recon_right_ledger_processor as "
        + PROCESSOR_ITEMS.format(source="recon_settlement_lines")
        + f" and {groups}",
        _PAYOUTS,
        _BANK_LINES,
        _INVOICES,
    )
    for sql in steps:
        params = {"as_of": as_of} if "$as_of" in sql else None
        conn.execute(sql, params)
