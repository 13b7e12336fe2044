"""`domain.money.minor_units_expr`, computed in steps over a frame.

The expression form repeats its shared parts (the regex split, the padded digits) in every
place that uses them, and an eager polars query computes each repetition: four amounts of a
52k-line settlement file took 2 s. Here each part is a column computed once, with the very
same formulas, so values and reasons are identical (tests/schemas/test_minor_units.py).
"""

from __future__ import annotations

import polars as pl

from billing_pipeline.domain.money import INT64_MAX, active_currencies

_DECIMAL = r"^([+-]?)(\d+)(?:\.(\d*))?$"
_PARTS = ["__sign", "__whole", "__fraction", "__exp", "__digits"]


def with_minor_units(
    frame: pl.DataFrame, amount_col: str, currency_col: str, minor_col: str, reason_col: str
) -> pl.DataFrame:
    """`frame` plus `minor_col` (Int64 or null) and `reason_col` (why not, or null)."""
    exps = active_currencies()
    parts = pl.col(amount_col).str.strip_chars().str.extract_groups(_DECIMAL)
    frame = frame.with_columns(
        parts.struct.field("1").alias("__sign"),
        parts.struct.field("2").alias("__whole"),
        parts.struct.field("3").fill_null("").str.strip_chars_end("0").alias("__fraction"),
        pl.col(currency_col)
        .replace_strict(exps, default=None, return_dtype=pl.Int32)
        .alias("__exp"),
    )
    sign, whole, fraction, exp = (pl.col(c) for c in _PARTS[:4])
    padded = fraction.str.pad_end(exp.fill_null(0).cast(pl.Int64), "0")  # type: ignore[arg-type]
    frame = frame.with_columns((whole + padded).str.strip_chars_start("0").alias("__digits"))
    digits = pl.col("__digits")
    too_big = (digits.str.len_chars() > 19) | (
        (digits.str.len_chars() == 19) & (digits > pl.lit(str(INT64_MAX)))
    )
    magnitude = pl.when(digits == "").then(pl.lit("0")).otherwise(digits)
    value = magnitude.cast(pl.Int64, strict=False) * pl.when(sign == "-").then(-1).otherwise(1)
    reason = (
        pl.when(pl.col(amount_col).is_null())
        .then(pl.lit("amount is missing"))
        .when(exp.is_null())
        .then(pl.format("unknown or retired currency code '{}'", pl.col(currency_col)))
        .when(whole.is_null())
        .then(pl.format("not a decimal amount: '{}'", pl.col(amount_col)))
        .when(fraction.str.len_chars() > exp)
        .then(
            pl.format(
                "'{}' has {} decimals; {} allows {}",
                pl.col(amount_col),
                fraction.str.len_chars(),
                pl.col(currency_col),
                exp,
            )
        )
        .when(too_big)
        .then(
            pl.format(
                "'{}' {} exceeds 64-bit minor units", pl.col(amount_col), pl.col(currency_col)
            )
        )
        .otherwise(pl.lit(None, dtype=pl.Utf8))
    )
    frame = frame.with_columns(reason.alias(reason_col), value.alias("__value"))
    minor = pl.when(pl.col(reason_col).is_null()).then(pl.col("__value"))
    frame = frame.with_columns(minor.otherwise(pl.lit(None, dtype=pl.Int64)).alias(minor_col))
    return frame.drop(*_PARTS, "__value")
