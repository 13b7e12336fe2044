"""Open items: which foreign-currency balance a journal line opens or closes.

Realized FX is the functional-currency residue left on an item when its transaction-currency
balance returns to zero (see `fx_postings`), so each line on a monetary account needs the
item it belongs to:

| account | item | opened by | closed by |
|---|---|---|---|
| assets:receivables, liabilities:customer_credit | `invoice:<invoice_id>` | invoice.sent | payments, credit notes, write-off |
| assets:processor_clearing:<p>, charge currency of a converted payment | `charge:<p>:<processor_ref>` | capture (refund, dispute) | settlement.conversion |
| assets:processor_clearing:<p>, otherwise | `payout:<p>:<payout_ref>` | captures and settlement lines of the payout | payout.sent |
| assets:cash_in_transit | `payout:<p>:<payout_ref>` | payout.sent | recon.payout_matched |
| assets:suspense | the bank line's key | bank.unexplained_* | recon decisions on that line |

A payment event finds its payout through the settlement line of its kind (capture - charge,
refund - refund, ...) with the same processor reference, the n-th event to the n-th line.
Until its line arrives it is `unsettled:<p>:<processor_ref>` and stays open (revalued at
month end, never realized). Lines on other accounts (bank accounts, write-offs) belong to no
item: they are only revalued.
"""  # noqa: E501

from __future__ import annotations

import polars as pl

from billing_pipeline.domain import accounts

# A settlement line, payout or payout decision (typed columns, `ledger_keys`) -> its item.
PAYOUT_ITEM_SQL = "('payout:' || processor || ':' || payout_ref)"

# CTEs over `events` and `settlement` (journal._FACT_SQL) ending in
# payment_items(idempotency_key, clearing_item).
CLEARING_ITEMS_SQL = """
converted as (
    select distinct processor, processor_ref from settlement
    where line_type not in ('fee', 'adjustment') and original_currency != currency
),
payment_moves as (
    select idempotency_key, processor, processor_ref,
           case event_type when 'payment.captured' then 'charge'
                           when 'payment.refunded' then 'refund'
                           when 'payment.dispute_opened' then 'chargeback'
                           else 'chargeback_reversal' end as line_type,
           row_number() over (
               partition by processor, processor_ref, event_type
               order by occurred_at, idempotency_key) as nth
    from events
    where event_type in ('payment.captured', 'payment.refunded', 'payment.dispute_opened',
                         'payment.dispute_won')
),
payment_items as (
    select m.idempotency_key,
           case when c.processor_ref is not null
                    then 'charge:' || m.processor || ':' || m.processor_ref
                when s.payout_ref is not null
                    then 'payout:' || m.processor || ':' || s.payout_ref
                else 'unsettled:' || m.processor || ':' || m.processor_ref end as clearing_item
    from payment_moves m
    left join converted c using (processor, processor_ref)
    left join settlement s using (processor, processor_ref, line_type, nth)
)
"""

ITEM_COLUMNS = ("invoice_id", "clearing_item", "charge_item", "transit_item", "suspense_item")


def with_items(lines: pl.DataFrame, facts: pl.DataFrame) -> pl.DataFrame:
    """`lines` plus `fx_item`, the item key of each line (null where it belongs to none).
    Lines with a `fact_row` column (their fact's row in `facts`, null for none) read their
    fact's item keys by it; others are matched to their fact by fact_id."""
    present = [c for c in ITEM_COLUMNS if c in facts.columns]
    wanted = [*present, *(["original_currency"] if present else [])]
    if "fact_row" in lines.columns:
        rows = lines.get_column("fact_row")
        keyed = lines.select("fact_type", "account", "currency").with_columns(
            facts.get_column(name).gather(rows) for name in wanted
        )
    else:
        keyed = lines.select("fact_id", "line_no", "fact_type", "account", "currency").join(
            facts.select("fact_id", *wanted), on="fact_id", how="left"
        )
    for name in ITEM_COLUMNS:
        if name not in keyed.columns:
            keyed = keyed.with_columns(pl.lit(None, dtype=pl.Utf8).alias(name))
    if "original_currency" not in keyed.columns:
        keyed = keyed.with_columns(original_currency=pl.lit(None, dtype=pl.Utf8))
    account = pl.col("account")
    charge_side = (pl.col("fact_type") == "settlement.conversion") & (
        pl.col("currency") == pl.col("original_currency")
    )
    item = (
        pl.when(
            account.is_in([accounts.RECEIVABLES, accounts.CUSTOMER_CREDIT])
            & pl.col("invoice_id").is_not_null()
        )
        .then(pl.lit("invoice:") + pl.col("invoice_id"))
        .when(account.str.starts_with(accounts.PROCESSOR_CLEARING + ":") & charge_side)
        .then(pl.col("charge_item"))
        .when(account.str.starts_with(accounts.PROCESSOR_CLEARING + ":"))
        .then(pl.col("clearing_item"))
        .when(account == accounts.CASH_IN_TRANSIT)
        .then(pl.col("transit_item"))
        .when(account == accounts.SUSPENSE)
        .then(pl.col("suspense_item"))
    )
    if "fact_row" in lines.columns:  # `keyed` is row for row `lines`
        fx_item = keyed.select(item.alias("fx_item")).to_series()
        return lines.drop("fx_item", strict=False).with_columns(fx_item)
    items = keyed.select("fact_id", "line_no", item.alias("fx_item"))
    return lines.drop("fx_item", strict=False).join(items, on=["fact_id", "line_no"], how="left")
