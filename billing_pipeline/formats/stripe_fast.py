"""Vectorised `stripe._balance_report_row` for the settlement lines it can prove good.

Payout rows (a handful per file), and every row with a value the field mirrors cannot prove,
are returned for the row-by-row reader.
"""

from __future__ import annotations

import polars as pl

from billing_pipeline.formats import fields_fast as ff
from billing_pipeline.formats.base import conform
from billing_pipeline.formats.csv_fast import LINE, header_columns


def read_balance_rows(
    frame: pl.DataFrame, columns: dict[str, int], line_types: dict[str, str]
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(settlement lines proven good, the rows of `frame` left to the row reader)."""

    raw, get = header_columns(columns)

    def first(*names: str) -> pl.Expr:
        return pl.coalesce([get(n) for n in names])

    ok: list[pl.Expr] = [get("balance_transaction_id").is_not_null()]
    currency, currency_ok = ff.currency_code(raw("currency").str.strip_chars())
    ok.append(currency_ok)
    amounts = {}
    for name in ("gross", "fee", "net"):
        amounts[name], amount_ok = ff.decimal_text(raw(name).str.strip_chars())
        ok.append(amount_ok)
    category = get("reporting_category").fill_null("")
    ok += [category.str.contains("^[A-Za-z_]*$"), category.str.to_lowercase() != "payout"]
    time_column = "created_utc" if "created_utc" in columns else "created"
    occurred_at, occurred_ok = ff.naive_instant(raw(time_column))
    ok.append(occurred_ok)
    available_on, available_ok = ff.date_prefix(first("available_on_utc", "available_on"))
    ok.append(available_ok)
    original_code = get("customer_facing_currency")
    original_currency, original_currency_ok = ff.currency_code(original_code)
    ok.append(original_code.is_null() | original_currency_ok)
    original_text = get("customer_facing_amount")
    original_amount, original_amount_ok = ff.decimal_text(original_text)
    ok.append(original_text.is_null() | original_amount_ok)
    read = frame.lazy().select(
        pl.lit("stripe").alias("processor"),
        get("balance_transaction_id").alias("line_ref"),
        category.str.to_lowercase()
        .replace_strict(line_types, default="adjustment", return_dtype=pl.Utf8)
        .alias("line_type"),
        first("charge_id", "source_id").alias("processor_ref"),
        get("payment_metadata[payment_id]").alias("merchant_ref"),
        first("automatic_payout_id").alias("payout_ref"),
        occurred_at.alias("occurred_at"),
        available_on.alias("available_on"),
        currency.alias("currency"),
        amounts["gross"].alias("gross_amount"),
        amounts["fee"].alias("fee_amount"),
        amounts["net"].alias("net_amount"),
        pl.when(original_code.is_not_null())
        .then(original_currency)
        .otherwise(currency)
        .alias("original_currency"),
        pl.when(original_text.is_not_null())
        .then(original_amount)
        .otherwise(amounts["gross"])
        .alias("original_amount"),
        pl.lit(None, dtype=pl.Utf8).alias("exchange_rate"),
        get("description").alias("description"),
        pl.col(LINE).alias("source_line"),
        pl.all_horizontal(ok).fill_null(False).alias("__ok"),
    )
    read = read.collect()
    good = conform("settlement_lines", read.filter(pl.col("__ok")))
    rest = frame.join(
        read.filter(~pl.col("__ok")).select(pl.col("source_line").alias(LINE)), on=LINE
    )
    return good, rest
