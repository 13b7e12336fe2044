"""`domain.money.minor_units_expr`, computed in steps over a frame.

The expression form repeats its shared parts (the regex split, the padded digits) in every
place that uses them, and an eager polars query computes each repetition: four amounts of a
52k-line settlement file took 2 s. Here each part is a column computed once and the rules
are the very same function (`minor_units_parts`), so values and reasons are identical
(tests/schemas/test_minor_units.py).
"""

from __future__ import annotations

import polars as pl

from billing_pipeline.domain.money import active_currencies, minor_units_parts

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
    value, reason = minor_units_parts(
        pl.col(amount_col), pl.col(currency_col), sign, whole, fraction, exp, pl.col("__digits")
    )
    frame = frame.with_columns(reason.alias(reason_col), value.alias("__value"))
    minor = pl.when(pl.col(reason_col).is_null()).then(pl.col("__value"))
    frame = frame.with_columns(minor.otherwise(pl.lit(None, dtype=pl.Int64)).alias(minor_col))
    return frame.drop(*_PARTS, "__value")
