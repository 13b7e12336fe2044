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

_PAYMENT_EVENTS = """
create or replace temp table recon_payment_events as
select idempotency_key as key, event_type, occurred_at, business_date,
       payload->>'payment_id' as payment_id, payload->>'invoice_id' as invoice_id,
       payload->>'processor' as processor, payload->>'processor_ref' as processor_ref,
       (payload->>'amount_minor')::bigint as amount_minor, payload->>'currency' as currency
from store.events
where event_type like 'payment.%' and business_date <= $as_of and source != 'recon'
"""

# Captures the lifecycle accepts: authorized first, never failed or voided before.
_LEGAL_PAYMENT_EVENTS = """
create or replace temp table recon_legal_payment_events as
with captures as (
    select c.* from recon_payment_events c
    where c.event_type = 'payment.captured'
      and exists (select 1 from recon_payment_events a where a.payment_id = c.payment_id
                  and a.event_type = 'payment.authorized' and a.occurred_at <= c.occurred_at)
      and not exists (select 1 from recon_payment_events f where f.payment_id = c.payment_id
                      and f.event_type in ('payment.failed', 'payment.voided')
                      and f.occurred_at <= c.occurred_at)
)
select * from captures
union all
select e.* from recon_payment_events e
where e.event_type in ('payment.refunded', 'payment.dispute_opened', 'payment.dispute_won')
  and exists (select 1 from captures c where c.payment_id = e.payment_id
              and c.occurred_at <= e.occurred_at)
"""

_LEDGER_ITEMS = """
create or replace temp table recon_left_ledger_processor as
select key, payment_id, processor, processor_ref,
       case event_type when 'payment.captured' then 'charge' when 'payment.refunded' then 'refund'
            when 'payment.dispute_opened' then 'chargeback'
            else 'chargeback_reversal' end as kind,
       amount_minor, currency, business_date, occurred_at
from recon_legal_payment_events
where processor is not null and processor != 'bank_transfer'
"""

_SETTLEMENT_LINES = """
create or replace temp table recon_settlement_lines as
select idempotency_key as key, business_date, occurred_at,
       payload->>'processor' as processor, payload->>'line_ref' as line_ref,
       payload->>'line_type' as line_type, payload->>'processor_ref' as processor_ref,
       payload->>'merchant_ref' as merchant_ref, payload->>'payout_ref' as payout_ref,
       -- Adyen rows carry no available-on date: the report's delivery date stands in for it.
       coalesce((payload->>'available_on')::date, partition_date) as available_on,
       payload->>'currency' as currency,
       (payload->>'gross_minor')::bigint as gross_minor,
       (payload->>'fee_minor')::bigint as fee_minor, (payload->>'net_minor')::bigint as net_minor,
       payload->>'original_currency' as original_currency,
       (payload->>'original_minor')::bigint as original_minor,
       payload->>'exchange_rate' as exchange_rate
from store.events
where event_type like 'settlement.%' and business_date <= $as_of
"""

# Amounts in the charge currency, signed like the ledger event (a refund of 5 is +5).
_PROCESSOR_ITEMS = """
create or replace temp table recon_right_ledger_processor as
select key, processor, processor_ref, line_type as kind, line_ref, merchant_ref,
       case when line_type in ('refund', 'chargeback') then -1 else 1 end
           * coalesce(original_minor, gross_minor) as amount_minor,
       coalesce(original_currency, currency) as currency,
       business_date, coalesce(available_on, business_date) as settlement_date,
       currency as settlement_currency, gross_minor, fee_minor, net_minor, occurred_at
from recon_settlement_lines
where line_type in ('charge', 'refund', 'chargeback', 'chargeback_reversal')
"""

_PAYOUTS = """
create or replace temp table recon_left_processor_bank as
select idempotency_key as key, payload->>'processor' as processor,
       payload->>'payout_ref' as payout_ref, payload->>'bank_reference' as bank_reference,
       nullif(regexp_extract(payload->>'payout_ref', '(\\d+)$', 1), '') as batch_number,
       (payload->>'amount_minor')::bigint as amount_minor, payload->>'currency' as currency,
       business_date,
       greatest(coalesce((payload->>'arrival_date')::date, business_date), business_date)
           as expected_date,
       occurred_at
from store.events
where event_type = 'payout.sent' and business_date <= $as_of
"""

_BANK_LINES = """
create or replace temp table recon_bank_lines as
select idempotency_key as key, payload->>'account_id' as account_id,
       (payload->>'amount_minor')::bigint as amount_minor, payload->>'currency' as currency,
       business_date, (payload->>'value_date')::date as value_date,
       payload->>'remittance_info' as remittance_info, payload->>'counterparty' as counterparty,
       -- Where the payer's name is depends on the format (camt: a field; MT940/BAI2: the text).
       concat_ws(' ', payload->>'counterparty', payload->>'remittance_info') as narrative,
       payload->>'end_to_end_ref' as end_to_end_ref, payload->>'entry_ref' as entry_ref,
       occurred_at
from store.events
where event_type in ('bank.credit', 'bank.debit') and business_date <= $as_of
"""

# Invoices that can receive cash: sent, not voided or written off, with what is still due
# before any bank transfer (amount - credit notes - legal card captures).
_INVOICES = """
create or replace temp table recon_invoices as
with ev as (
    select event_type, business_date, payload->>'invoice_id' as invoice_id,
           payload->>'invoice_number' as invoice_number, payload->>'customer_id' as customer_id,
           (payload->>'amount_minor')::bigint as amount_minor, payload->>'currency' as currency,
           (payload->>'due_date')::date as due_date, seq
    from store.events
    where event_type like 'invoice.%' and business_date <= $as_of
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


def load_sources(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    for sql in (_PAYMENT_EVENTS, _LEGAL_PAYMENT_EVENTS, _LEDGER_ITEMS, _SETTLEMENT_LINES,
                _PROCESSOR_ITEMS, _PAYOUTS, _BANK_LINES, _INVOICES):  # fmt: skip
        params = {"as_of": as_of} if "$as_of" in sql else None
        conn.execute(sql, params)
