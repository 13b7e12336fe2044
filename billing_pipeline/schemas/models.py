"""Pandera (polars) contracts of the VALIDATED canonical frames.

Same columns as `formats.base`, except that every decimal-text `*amount` column has become an
Int64 `*_minor` column in its currency (see `validate.to_minor_units`). Column checks name the
rule they enforce, so that a quarantined row says why in words.
"""

from __future__ import annotations

from typing import Annotated

import pandera.polars as pa
import polars as pl
from pandera.api.polars.types import PolarsData

from billing_pipeline.domain.money import active_currencies

PROCESSORS = ["stripe", "adyen"]
EVENT_PROCESSORS = ["stripe", "adyen", "bank_transfer"]
LINE_TYPES = ["charge", "refund", "chargeback", "chargeback_reversal", "fee", "adjustment"]
BANK_FORMATS = ["camt053", "mt940", "bai2", "csv"]
BALANCE_TYPES = [
    "opening",
    "closing",
    "closing_available",
    "interim_opening",
    "interim_closing",
    "forward_available",
]
FIRST_YEAR, LAST_YEAR = 1990, 2100
UtcInstant = Annotated[pl.Datetime, "us", "UTC"]


def _null_or(data: PolarsData, expr: pl.Expr) -> pl.LazyFrame:
    column = pl.col(data.key)
    return data.lazyframe.select(expr | column.is_null())


def plausible_year(data: PolarsData) -> pl.LazyFrame:
    return _null_or(data, pl.col(data.key).dt.year().is_between(FIRST_YEAR, LAST_YEAR))


def active_currency(data: PolarsData) -> pl.LazyFrame:
    return _null_or(data, pl.col(data.key).is_in(list(active_currencies())))


def positive_decimal(data: PolarsData) -> pl.LazyFrame:
    text = pl.col(data.key)
    return _null_or(data, text.str.contains(r"^\d+(?:\.\d+)?$") & text.str.contains("[1-9]"))


_YEAR = f"year_between_{FIRST_YEAR}_and_{LAST_YEAR}"
_CURRENCY = "active_iso4217_currency"


class SettlementLine(pa.DataFrameModel):
    processor: pl.Utf8 = pa.Field(isin=PROCESSORS)
    line_ref: pl.Utf8
    line_type: pl.Utf8 = pa.Field(isin=LINE_TYPES)
    processor_ref: pl.Utf8 = pa.Field(nullable=True)
    merchant_ref: pl.Utf8 = pa.Field(nullable=True)
    payout_ref: pl.Utf8 = pa.Field(nullable=True)
    occurred_at: UtcInstant
    available_on: pl.Date = pa.Field(nullable=True)
    currency: pl.Utf8
    gross_minor: pl.Int64
    fee_minor: pl.Int64
    net_minor: pl.Int64
    original_currency: pl.Utf8
    original_minor: pl.Int64
    exchange_rate: pl.Utf8 = pa.Field(nullable=True)
    description: pl.Utf8 = pa.Field(nullable=True)
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("occurred_at", "available_on", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("currency", "original_currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)

    @pa.check("exchange_rate", name="positive_decimal")
    def _rate(cls, data: PolarsData) -> pl.LazyFrame:
        return positive_decimal(data)

    @pa.dataframe_check(name="net_equals_gross_minus_fee")
    def _net(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(
            pl.col("net_minor") == pl.col("gross_minor") - pl.col("fee_minor")
        )


class Payout(pa.DataFrameModel):
    processor: pl.Utf8 = pa.Field(isin=PROCESSORS)
    payout_ref: pl.Utf8
    bank_reference: pl.Utf8 = pa.Field(nullable=True)
    created_at: UtcInstant
    arrival_date: pl.Date = pa.Field(nullable=True)
    currency: pl.Utf8
    amount_minor: pl.Int64 = pa.Field(gt=0)
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("created_at", "arrival_date", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)


class BankLine(pa.DataFrameModel):
    bank_format: pl.Utf8 = pa.Field(isin=BANK_FORMATS)
    account_id: pl.Utf8
    statement_id: pl.Utf8 = pa.Field(nullable=True)
    entry_ref: pl.Utf8 = pa.Field(nullable=True)
    end_to_end_ref: pl.Utf8 = pa.Field(nullable=True)
    booking_date: pl.Date
    value_date: pl.Date = pa.Field(nullable=True)
    currency: pl.Utf8
    amount_minor: pl.Int64
    tx_code: pl.Utf8 = pa.Field(nullable=True)
    counterparty: pl.Utf8 = pa.Field(nullable=True)
    remittance_info: pl.Utf8 = pa.Field(nullable=True)
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("booking_date", "value_date", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)


class BankBalance(pa.DataFrameModel):
    bank_format: pl.Utf8 = pa.Field(isin=BANK_FORMATS)
    account_id: pl.Utf8
    statement_id: pl.Utf8 = pa.Field(nullable=True)
    balance_type: pl.Utf8 = pa.Field(isin=BALANCE_TYPES)
    as_of_date: pl.Date
    currency: pl.Utf8
    amount_minor: pl.Int64
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("as_of_date", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)


class BillingEvent(pa.DataFrameModel):
    event_id: pl.Utf8 = pa.Field(str_length={"min_value": 1})
    type: pl.Utf8 = pa.Field(str_length={"min_value": 1})
    occurred_at: UtcInstant
    payment_id: pl.Utf8 = pa.Field(nullable=True)
    invoice_id: pl.Utf8 = pa.Field(nullable=True)
    customer_id: pl.Utf8 = pa.Field(nullable=True)
    amount_minor: pl.Int64 = pa.Field(nullable=True)
    currency: pl.Utf8 = pa.Field(nullable=True)
    processor: pl.Utf8 = pa.Field(nullable=True, isin=EVENT_PROCESSORS)
    processor_ref: pl.Utf8 = pa.Field(nullable=True)
    due_date: pl.Date = pa.Field(nullable=True)
    payload: pl.Utf8
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("occurred_at", "due_date", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)


class Rate(pa.DataFrameModel):
    rate_date: pl.Date
    base_currency: pl.Utf8
    quote_currency: pl.Utf8
    rate: pl.Utf8
    source_line: pl.Int64

    class Config:
        strict = True

    @pa.check("rate_date", name=_YEAR)
    def _year(cls, data: PolarsData) -> pl.LazyFrame:
        return plausible_year(data)

    @pa.check("base_currency", "quote_currency", name=_CURRENCY)
    def _currency(cls, data: PolarsData) -> pl.LazyFrame:
        return active_currency(data)

    @pa.check("rate", name="positive_decimal")
    def _rate(cls, data: PolarsData) -> pl.LazyFrame:
        return positive_decimal(data)

    @pa.dataframe_check(name="base_differs_from_quote")
    def _pair(cls, data: PolarsData) -> pl.LazyFrame:
        return data.lazyframe.select(pl.col("base_currency") != pl.col("quote_currency"))


MODELS: dict[str, type[pa.DataFrameModel]] = {
    "settlement_lines": SettlementLine,
    "payouts": Payout,
    "bank_lines": BankLine,
    "bank_balances": BankBalance,
    "billing_events": BillingEvent,
    "rates": Rate,
}
