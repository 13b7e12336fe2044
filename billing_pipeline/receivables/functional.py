"""Amounts due in the functional currency at the rate of each report date.

Aging revalues what is still due at the report date's rate (the rate book the ledger uses:
ECB reference rates plus landed overrides), with the one configured rounding rule. Rates can
be cross rates with 34 significant digits, more than a SQL DECIMAL carries exactly, so the
conversion is done here with `domain.rounding.convert_minor`, once per distinct
(date, currency, amount). A missing or stale rate gives no functional amount and says why,
never 0 or 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date
from typing import NamedTuple

from billing_pipeline.domain.fx import RateBook, RateError, RateQuote
from billing_pipeline.domain.rounding import RoundingRule, convert_minor


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


def functional_amounts(
    amounts: Iterable[tuple[date, str, int]],
    book: RateBook,
    functional: str,
    rule: str | RoundingRule,
) -> list[FunctionalAmount]:
    """Each distinct (as_of_date, currency, amount_minor) in `functional`, sorted."""
    quotes: dict[tuple[date, str], RateQuote | str] = {}
    rows = []
    for on, currency, amount in sorted(set(amounts)):
        if (on, currency) not in quotes:
            try:
                quotes[(on, currency)] = book.rate(on, currency, functional)
            except RateError as error:
                quotes[(on, currency)] = str(error)
        quote = quotes[(on, currency)]
        if isinstance(quote, str):
            rows.append(
                FunctionalAmount(on, currency, amount, functional, None, None, None, None, quote)
            )
            continue
        converted = convert_minor(amount, currency, functional, quote.rate, rule)
        rows.append(
            FunctionalAmount(
                on, currency, amount, functional, converted, str(quote.rate), quote.rate_date,
                quote.source, None,
            )
        )  # fmt: skip
    return rows
