"""FX gain and loss entries, derived from the converted journal lines (rebuilt with them).

Three kinds, each an entry of two functional-only lines (zero in every transaction
currency, like the rounding line), so entries still balance per currency and in functional:

- conversion spread, inside each `settlement.conversion` entry: the processor's rate against
  the reference rate. The entry's lines on equity:currency_exchange are converted at the
  reference rates of the day, so their functional sum is what the processor's rate gained
  or lost; moving it to income:fx_gain_loss leaves the exchange account at zero in functional.
- `fx.realized`: when an open item (`fx_items`) returns to zero in its foreign currency, the
  functional amount still on it is the FX result of the rates at which it was opened and
  closed (invoice sent -> paid, capture -> converted, settled -> paid out, paid out ->
  matched at the bank). Booked on the closing date against income:fx_gain_loss, so a closed
  item is zero in the functional currency too. A partly settled item realizes nothing until
  it closes; its open balance is revalued at month end meanwhile.
- `fx.revaluation` at each month end inside the journal's dates: every foreign-currency
  balance on a monetary account (`fx.MONETARY_ACCOUNTS`) revalued at the month-end rate;
  `fx.revaluation_reversal` undoes it the next day, so realized results stay measured from
  the booking rate.

Positive functional amounts on income:fx_gain_loss are credits (gains).
"""

from __future__ import annotations

import calendar
from datetime import date, timedelta

import polars as pl

from billing_pipeline.domain import accounts
from billing_pipeline.domain.fx import MONETARY_ACCOUNTS, RateBook, RateError
from billing_pipeline.domain.posting import CURRENCY_EXCHANGE
from billing_pipeline.domain.rounding import RoundingRule, convert_minor

FX_RULES_VERSION = "fx-postings/2026.1"
_DELTA_COLUMNS = [
    "fact_id", "fact_type", "line_no", "event_id", "effective_date", "account", "currency",
    "delta", "rate", "rate_date", "rate_source", "rules_version",
]  # fmt: skip
# Where a line's event came from. Lines carry it from their fact; a derived line takes its
# event's (a spread, a realized result), so no line needs it looked up again.
LINEAGE = ("partition_date", "source_line", "source_file")
# A few files name millions of lines: their paths are categories, not a string per line.
SOURCE_FILE = pl.Categorical


def is_monetary(account: pl.Expr) -> pl.Expr:
    return pl.any_horizontal(
        (account == root) | account.str.starts_with(root + ":") for root in MONETARY_ACCOUNTS
    )


def adjustment_lines(deltas: pl.DataFrame, functional: str, columns: list[str]) -> pl.DataFrame:
    """Each delta (functional amount to debit `account`, negative = credit) as two lines:
    the account at `line_no` and income:fx_gain_loss at `line_no + 1`, both zero in their
    transaction currency."""
    if deltas.is_empty():
        return pl.DataFrame(schema={c: _JOURNAL_DTYPES[c] for c in columns})
    delta = pl.col("delta")
    on_account = deltas.with_columns(
        functional_debit_minor=pl.when(delta > 0).then(delta).otherwise(0),
        functional_credit_minor=pl.when(delta < 0).then(-delta).otherwise(0),
    )
    on_income = deltas.with_columns(
        line_no=pl.col("line_no") + 1,
        account=pl.lit(accounts.FX_GAIN_LOSS),
        currency=pl.lit(functional),
        functional_debit_minor=pl.when(delta < 0).then(-delta).otherwise(0),
        functional_credit_minor=pl.when(delta > 0).then(delta).otherwise(0),
        rate=pl.lit("1"),
        rate_date=pl.col("effective_date"),
        rate_source=pl.lit("identity"),
    )
    if "fx_item" in on_income.columns:  # the item is the foreign side's, not the income's
        on_income = on_income.with_columns(fx_item=pl.lit(None, dtype=pl.Utf8))
    both = pl.concat([on_account, on_income], how="vertical_relaxed")
    return (
        both.with_columns(pl.lit(None).alias(c) for c in columns if c not in both.columns)
        .with_columns(
            debit_minor=pl.lit(0, dtype=pl.Int64),
            credit_minor=pl.lit(0, dtype=pl.Int64),
            functional_currency=pl.lit(functional),
        )
        .select(columns)
        .cast({c: _JOURNAL_DTYPES[c] for c in columns})
    )


def spread_lines(lines: pl.DataFrame, functional: str) -> pl.DataFrame:
    """The conversion spread of every settlement.conversion entry (added to that entry)."""
    lineage = [c for c in LINEAGE if c in lines.columns]
    deltas = (
        lines.filter(pl.col("fact_type") == "settlement.conversion")
        .group_by("fact_id", "fact_type", "event_id", "effective_date", "rules_version", *lineage)
        .agg(
            line_no=pl.col("line_no").max() + 1,
            delta=(pl.col("functional_credit_minor") - pl.col("functional_debit_minor"))
            .filter(pl.col("account") == CURRENCY_EXCHANGE)
            .sum(),
        )
        .filter(pl.col("delta") != 0)
        .with_columns(
            account=pl.lit(CURRENCY_EXCHANGE),
            currency=pl.lit(functional),
            rate=pl.lit("1"),
            rate_date=pl.col("effective_date"),
            rate_source=pl.lit("identity"),
        )
    )
    return adjustment_lines(deltas.select(*_DELTA_COLUMNS, *lineage), functional, lines.columns)


def realized_lines(lines: pl.DataFrame, functional: str, columns: list[str]) -> pl.DataFrame:
    """`fx.realized` entries for every foreign-currency item that closed (needs `fx_item`)."""
    lineage = [c for c in LINEAGE if c in lines.columns]
    daily = (
        lines.filter(
            pl.col("fx_item").is_not_null()
            & (pl.col("currency") != functional)
            & is_monetary(pl.col("account"))
        )
        .group_by("account", "currency", "fx_item", "effective_date")
        .agg(
            net=(pl.col("debit_minor") - pl.col("credit_minor")).sum(),
            functional_net=(
                pl.col("functional_debit_minor") - pl.col("functional_credit_minor")
            ).sum(),
            # The day's last line (by fact and line) names the event and rate: ordered
            # within each group, not by a sort of every line on their text ids.
            last=pl.struct("event_id", "rate", "rate_date", "rate_source", *lineage)
            .sort_by("fact_id", "line_no")
            .last(),
        )
        .unnest("last")
        .sort("account", "currency", "fx_item", "effective_date")
    )
    # `daily` is sorted by item, so items and segments are runs of rows, computed with flat
    # cumulative sums: windows over the item's three text keys took ~0.7 s a 265k-row chunk.
    # An item's running net is the running total less the total before its first row (in
    # 128 bits, so the total of every item cannot overflow where one item's does not).
    first = pl.struct("account", "currency", "fx_item").rle_id().diff().fill_null(1) != 0
    running = pl.col("net").cast(pl.Int128).cum_sum()
    before_item = pl.when("_first").then(pl.col("_running") - pl.col("net")).forward_fill()
    # A segment runs from the day after one close to the next close: what it left in
    # functional is realized on the closing day.
    starts_segment = pl.col("_first") | pl.col("closes").shift(1, fill_value=False)
    deltas = (
        daily.with_columns(_first=first, _running=running)
        .with_columns(closes=(pl.col("_running") - before_item) == 0)
        .with_columns(_segment=starts_segment.cum_sum())
        .with_columns(residue=pl.col("functional_net").sum().over("_segment"))
        .filter(pl.col("closes") & (pl.col("residue") != 0))
        .select(
            *lineage,
            fact_id=pl.format(
                "fx.realized:{}:{}:{}:{}", "account", "currency", "fx_item", "effective_date"
            ),
            fact_type=pl.lit("fx.realized"),
            line_no=pl.lit(1, dtype=pl.Int64),
            event_id="event_id",
            effective_date="effective_date",
            account="account",
            currency="currency",
            delta=-pl.col("residue"),
            fx_item="fx_item",
            rate="rate",
            rate_date="rate_date",
            rate_source="rate_source",
            rules_version=pl.lit(FX_RULES_VERSION),
        )
    )
    return adjustment_lines(deltas, functional, columns)


def month_ends(first: date, last: date) -> list[date]:
    """Every last day of a month in [first, last]."""
    ends, year, month = [], first.year, first.month
    while True:
        end = date(year, month, calendar.monthrange(year, month)[1])
        if end > last:
            return ends
        ends.append(end)
        year, month = (year + 1, 1) if month == 12 else (year, month + 1)


def revaluation_lines(
    lines: pl.DataFrame, book: RateBook, functional: str, rule: RoundingRule
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(month-end revaluations and their next-day reversals, problems: event_id, reason)."""
    balances: list[tuple[date, list[tuple]]] = []
    if lines.height:
        first, last = lines["effective_date"].min(), lines["effective_date"].max()
        candidates = lines.filter(
            (pl.col("currency") != functional) & is_monetary(pl.col("account"))
        ).sort("effective_date", "fact_id", "line_no")
        for month_end in month_ends(first, last):
            balances.append((month_end, _balances(candidates, month_end)))
    return revaluation_entries(balances, book, functional, rule, lines.columns)


def revaluation_entries(
    balances: list[tuple[date, list[tuple]]],
    book: RateBook,
    functional: str,
    rule: RoundingRule,
    columns: list[str],
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """The revaluation lines and problems from each month end's balances: rows of (account,
    currency, net, functional net, event_id of the last line) sorted by account, currency.
    Split from `revaluation_lines` so an incremental run can sum the balances in SQL."""
    problems: list[tuple[str, str]] = []
    rows: list[dict] = []
    for month_end, month_balances in balances:
        rows.extend(_revalue(month_balances, month_end, book, functional, rule, problems))
    deltas = pl.DataFrame(
        rows,
        schema={
            "fact_id": pl.Utf8,
            "fact_type": pl.Utf8,
            "line_no": pl.Int64,
            "event_id": pl.Utf8,
            "effective_date": pl.Date,
            "account": pl.Utf8,
            "currency": pl.Utf8,
            "delta": pl.Int64,
            "rate": pl.Utf8,
            "rate_date": pl.Date,
            "rate_source": pl.Utf8,
            "rules_version": pl.Utf8,
        },
        orient="row",
    )
    problem_frame = pl.DataFrame(
        problems, schema={"event_id": pl.Utf8, "reason": pl.Utf8}, orient="row"
    )
    return adjustment_lines(deltas, functional, columns), problem_frame


def _balances(candidates: pl.DataFrame, month_end: date) -> list[tuple]:
    return (
        candidates.filter(pl.col("effective_date") <= month_end)
        .group_by("account", "currency", maintain_order=True)
        .agg(
            net=(pl.col("debit_minor") - pl.col("credit_minor")).sum(),
            functional_net=(
                pl.col("functional_debit_minor") - pl.col("functional_credit_minor")
            ).sum(),
            event_id=pl.col("event_id").last(),
        )
        .sort("account", "currency")
        .rows()
    )


def _revalue(balances, month_end, book, functional, rule, problems):
    for account, currency, net, functional_net, event_id in balances:
        try:
            quote = book.rate(month_end, currency, functional)
        except RateError as error:
            problems.append((event_id, f"no functional amount: fx revaluation {month_end} "
                             f"{account} {currency}: {error}"))  # fmt: skip
            continue
        delta = convert_minor(net, currency, functional, quote.rate, rule) - functional_net
        if delta == 0:
            continue
        key = f"{month_end}:{account}:{currency}"
        common = {"line_no": 1, "event_id": event_id, "account": account, "currency": currency,
                  "rate": str(quote.rate), "rate_date": quote.rate_date,
                  "rate_source": quote.source, "rules_version": FX_RULES_VERSION}  # fmt: skip
        yield {
            "fact_id": f"fx.revaluation:{key}",
            "fact_type": "fx.revaluation",
            "effective_date": month_end,
            "delta": delta,
            **common,
        }
        yield {
            "fact_id": f"fx.revaluation_reversal:{key}",
            "fact_type": "fx.revaluation_reversal",
            "effective_date": month_end + timedelta(days=1),
            "delta": -delta,
            **common,
        }


_JOURNAL_DTYPES: dict[str, pl.DataType] = {
    "fact_id": pl.Utf8, "fact_type": pl.Utf8, "line_no": pl.Int64, "account": pl.Utf8,
    "currency": pl.Utf8, "debit_minor": pl.Int64, "credit_minor": pl.Int64,
    "rules_version": pl.Utf8, "event_id": pl.Utf8, "effective_date": pl.Date,
    "functional_debit_minor": pl.Int64, "functional_credit_minor": pl.Int64, "rate": pl.Utf8,
    "rate_date": pl.Date, "rate_source": pl.Utf8, "functional_currency": pl.Utf8,
    "fx_item": pl.Utf8, "partition_date": pl.Date, "source_line": pl.Int64,
    "source_file": SOURCE_FILE,
}  # fmt: skip
