"""Amounts due in the functional currency at the rate of each report date.

Aging revalues what is still due at the report date's rate (the rate book the ledger uses:
ECB reference rates plus landed overrides), with the one configured rounding rule. Rates can
be cross rates with 34 significant digits, more than a SQL DECIMAL carries exactly, so each
distinct (date, currency, amount) is converted with the journal's set-based conversion
(`warehouse.fx_convert`: exact integer arithmetic, equal to `domain.rounding.convert_minor`
row for row). One quote is looked up per (date, currency); a date range at 100k payments a
day holds a million distinct amounts, which took ~18 µs each converted one by one. A missing
or stale rate gives no functional amount and says why, never 0 or 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

import polars as pl

from billing_pipeline.domain.fx import RateBook, RateError
from billing_pipeline.domain.rounding import RoundingRule, rounding_rule
from billing_pipeline.warehouse.fx_convert import convert_columns


class FunctionalAmount(NamedTuple):
    as_of_date: date
    currency: str
    amount_minor: int
    functional_currency: str
    functional_amount_minor: int | None
    rate: str | None  # exact decimal text, 1 currency = rate functional
    rate_date: date | None
    rate_source: str | None
    problem: str | None


SCHEMA = {
    "as_of_date": pl.Date, "currency": pl.Utf8, "amount_minor": pl.Int64,
    "functional_currency": pl.Utf8, "functional_amount_minor": pl.Int64, "rate": pl.Utf8,
    "rate_date": pl.Date, "rate_source": pl.Utf8, "problem": pl.Utf8,
}  # fmt: skip
assert tuple(SCHEMA) == FunctionalAmount._fields  # rows become FunctionalAmounts by position
_KEY = ["as_of_date", "currency", "amount_minor"]
_QUOTE_SCHEMA = {"as_of_date": pl.Date, "currency": pl.Utf8, "rate": pl.Utf8,
                 "rate_date": pl.Date, "rate_source": pl.Utf8, "problem": pl.Utf8}  # fmt: skip


def functional_amount_frame(
    amounts: pl.DataFrame, book: RateBook, functional: str, rule: str | RoundingRule
) -> pl.DataFrame:
    """Each distinct (as_of_date, currency, amount_minor) row of `amounts` in `functional`,
    sorted by those columns, with `SCHEMA`'s columns."""
    rule = rounding_rule(rule)
    distinct = amounts.select(pl.col(name).cast(SCHEMA[name]) for name in _KEY).unique()
    quotes = pl.DataFrame(
        [
            _quote(book, on, currency, functional)
            for on, currency in distinct.select("as_of_date", "currency").unique().iter_rows()
        ],
        schema=_QUOTE_SCHEMA,
        orient="row",
    )
    rated = distinct.join(quotes, on=["as_of_date", "currency"], how="left", maintain_order="left")
    converted = pl.concat(
        [
            convert_columns(
                rated.filter(pl.col("rate").is_not_null()),
                {"functional_amount_minor": "amount_minor"},
                functional,
                rule,
            ),
            rated.filter(pl.col("rate").is_null()).with_columns(
                functional_amount_minor=pl.lit(None, dtype=pl.Int64)
            ),
        ],
        how="diagonal",
    )
    return (
        converted.with_columns(functional_currency=pl.lit(functional))
        .select(pl.col(name).cast(kind) for name, kind in SCHEMA.items())
        .sort(_KEY)
    )


def _quote(book: RateBook, on: date, currency: str, functional: str) -> tuple:
    try:
        quote = book.rate(on, currency, functional)
    except RateError as error:
        return (on, currency, None, None, None, str(error))
    return (on, currency, str(quote.rate), quote.rate_date, quote.source, None)


def functional_amounts(
    amounts: Iterable[tuple[date, str, int]],
    book: RateBook,
    functional: str,
    rule: str | RoundingRule,
) -> list[FunctionalAmount]:
    """Each distinct (as_of_date, currency, amount_minor) in `functional`, sorted."""
    frame = pl.DataFrame(list(amounts), schema=_KEY, orient="row")
    rows = functional_amount_frame(frame, book, functional, rule).iter_rows()
    return [FunctionalAmount(*row) for row in rows]
