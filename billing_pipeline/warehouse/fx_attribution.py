"""Per payment, its realized FX effect in the functional currency, split by step.

The ledger books FX results per open item (`fx_items`, `fx_postings`), not per payment; this
attributes them back:

| step | FX results on | attributed to |
|---|---|---|
| invoice_to_capture | `invoice:<id>` items (receivables, customer credit) | payments, pro rata to what each credited to the item |
| capture_to_settlement | `charge:<p>:<ref>` items and the conversion spread of the charge's settlement.conversion | the charge's payment |
| settlement_to_bank | `payout:<p>:<ref>` items (clearing and cash in transit) | payments, pro rata to what each debited to the payout's clearing |

A payment settled in its own currency has no charge item: its clearing item runs from capture
to payout, so its capture-to-payout result is under settlement_to_bank. Shares are whole
minor units by largest remainder, so an item's result is split exactly: the steps of all
payments plus the unattributed part (credit notes, write-offs, bank transfers, fees-only
payouts: `payment_id` null) sum to the ledger's realized FX on those items. Month-end
revaluation is unrealized and reversed the next day: not part of any step.
"""  # noqa: E501

from __future__ import annotations

import duckdb
import polars as pl

from billing_pipeline.warehouse import ledger_keys
from billing_pipeline.warehouse.tables import query_frame

STEPS = ("invoice_to_capture", "capture_to_settlement", "settlement_to_bank")

_SQL = """
-- Not materialized: four CTEs read their own lines of the journal, and DuckDB materialized it
-- whole for them (7.5-9.0 s against 5.7-7.2 s on a 30-day backfill's 16M lines, same rows).
with lines as not materialized (select * from __LINES__),
-- The ledger's typed copies of the payload fields (`ledger_keys`): the same strings as
-- `payload->>'…'`, without parsing every stored payload again (half of this model's time).
events as (
    select idempotency_key, event_type, nullif(payment_key, chr(0)) as payment_id, invoice_id,
           processor, processor_ref, currency
    from __KEYS__
),
payments as (
    select payment_id, min(processor) as processor, min(processor_ref) as processor_ref,
           min(invoice_id) as invoice_id, min(currency) as currency
    from events where event_type = 'payment.captured' group by all
),
event_payment as (
    -- The events whose lines weigh on an item: payment moves and settlement lines.
    select idempotency_key as event_id, payment_id
    from events where event_type in ('payment.captured', 'payment.refunded',
                                     'payment.dispute_opened', 'payment.dispute_won')
    union all
    select e.idempotency_key, p.payment_id
    from events e join payments p
      on p.processor = e.processor and p.processor_ref = e.processor_ref
    where e.event_type like 'settlement.%'
),
results as (
    -- A realized line's foreign side: debit = gain (its income line is the credit).
    select fx_item, sum(functional_debit_minor - functional_credit_minor) as result
    from lines where fact_type = 'fx.realized' and fx_item is not null group by all
    union all
    select c.fx_item, sum(s.functional_credit_minor - s.functional_debit_minor)
    from lines s
    join (select distinct fact_id, fx_item from lines
          where fact_type = 'settlement.conversion' and fx_item like 'charge:%') c using (fact_id)
    where s.fact_type = 'settlement.conversion' and s.account = 'income:fx_gain_loss'
    group by all
),
item_results as (
    select fx_item,
           case when fx_item like 'invoice:%' then 'invoice_to_capture'
                when fx_item like 'charge:%' then 'capture_to_settlement'
                when fx_item like 'payout:%' then 'settlement_to_bank' end as step,
           sum(result) as result
    from results group by all
    having step is not null and sum(result) != 0
),
weights as (
    -- Only items with a result are shared out: most items close at no FX result at all.
    select l.fx_item, ep.payment_id,
           sum(case when l.fx_item like 'invoice:%' then l.credit_minor else l.debit_minor end)
               as weight
    from lines l left join event_payment ep using (event_id)
    where l.fact_type not like 'fx.%'
      and l.fx_item in (select fx_item from item_results)
      and (l.fx_item like 'invoice:%' or l.fx_item like 'charge:%'
           or (l.fx_item like 'payout:%' and l.account like 'assets:processor_clearing:%'))
    group by all
    having weight > 0
),
shares as (
    select r.fx_item, r.step, r.result, w.payment_id,
           -- an item nobody is known to have contributed to stays whole and unattributed
           coalesce(w.weight, 1)::hugeint as weight,
           sum(coalesce(w.weight, 1)::hugeint) over item as total_weight
    from item_results r left join weights w using (fx_item)
    window item as (partition by r.fx_item)
),
floored as (
    select *, abs(result)::hugeint * weight // total_weight as base,
           abs(result)::hugeint * weight % total_weight as remainder
    from shares
),
allocated as (
    select fx_item, step, payment_id,
           sign(result) * (base + case when row_number() over item_order
                   <= abs(result) - sum(base) over item then 1 else 0 end) as amount
    from floored
    window item as (partition by fx_item),
           item_order as (partition by fx_item order by remainder desc, payment_id nulls last)
),
per_payment as (
    select payment_id,
           sum(amount) filter (where step = 'invoice_to_capture') as invoice_to_capture,
           sum(amount) filter (where step = 'capture_to_settlement') as capture_to_settlement,
           sum(amount) filter (where step = 'settlement_to_bank') as settlement_to_bank
    from allocated group by all
)
select payment_id, p.processor, p.processor_ref, p.invoice_id, p.currency,
       coalesce(invoice_to_capture, 0)::bigint as invoice_to_capture_minor,
       coalesce(capture_to_settlement, 0)::bigint as capture_to_settlement_minor,
       coalesce(settlement_to_bank, 0)::bigint as settlement_to_bank_minor,
       (coalesce(invoice_to_capture, 0) + coalesce(capture_to_settlement, 0)
        + coalesce(settlement_to_bank, 0))::bigint as total_fx_minor
from payments p full join per_payment using (payment_id)
"""


# Where the journal is when it is not handed over as a frame.
JOURNAL = "ledger_store.journal_lines"


def payment_attribution(
    conn: duckdb.DuckDBPyConnection, lines: pl.DataFrame | None = None
) -> pl.DataFrame:
    """One row per captured payment (and one with payment_id null for the unattributed part):
    its realized FX by step and in total, functional minor units, gain positive. `lines` are
    journal lines with `fx_item`; without them, the journal `conn` holds is read in place (a
    long history does not fit in memory as a frame: ~10 GiB at 1M payments a day); `conn`
    holds `store.events` (its key copies are brought up to date first)."""
    if lines is None:
        return query_frame(conn, attribution_sql(conn))
    conn.register("fx_attribution_lines", lines.to_arrow())
    try:
        return query_frame(conn, attribution_sql(conn, "fx_attribution_lines"))
    finally:
        conn.unregister("fx_attribution_lines")


def attribution_sql(
    conn: duckdb.DuckDBPyConnection, lines: str = JOURNAL, ordered: bool = True
) -> str:
    """The query behind `payment_attribution` over the journal lines in relation `lines`, for
    a caller that writes the rows where they are (the dbt model: no trip through Python).
    Brings the key copies it reads up to date first. `ordered`: by payment, as the frame is;
    a table needs no order (sorting 2.8M payments was 1.3-2.5 s of ~9 s on the last date of
    a 100k-payments-a-day backfill)."""
    ledger_keys.refresh(conn)
    sql = _SQL.replace("__KEYS__", ledger_keys.KEYS).replace("__LINES__", lines)
    return sql + "order by payment_id nulls last" if ordered else sql
