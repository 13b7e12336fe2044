"""Set-based functional conversion, exactly equal to `domain.rounding.convert_minor`.

A decimal rate is an exact fraction: amount * rate * 10^(exp_to - exp_from) = amount * n / 10^k
with integers n (the rate's digits) and k. There are few distinct rates in a journal (one per
date and currency), so their fractions are computed in Python and joined to the lines; the
per-row arithmetic is polars Int128, which holds 1.7e38.

A 34-digit cross rate times a 64-bit amount needs ~180 bits, so the numerator is split into
two limbs, n = hi * 10^17 + lo (hi < 10^18, lo < 10^17), and k is raised to at least 17 by
scaling n. With m = |amount| < 2^63 + 1:

    m * n / 10^k = (m*hi) / 10^(k-17) + (m*lo) / 10^k
    m*hi = qh * 10^(k-17) + rh                       (m*hi < 9.3e36)
    t = rh * 10^17 + m*lo < 10^k + 9.3e35            (fits Int128 for k <= 38)
    quotient = qh + t // 10^k, remainder = t % 10^k

and the rounding rule decides from the remainder (against 10^k - remainder, which cannot
overflow) whether the magnitude goes up by one. Rates outside those bounds (more than 35
digits, or k > 38) are converted row by row with `convert_minor`: correct, only slower.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal

import polars as pl

from billing_pipeline.domain.money import exponent
from billing_pipeline.domain.rounding import RoundingRule, convert_minor

LIMB_DIGITS = 17
MAX_NUMERATOR = 10**35
MAX_SCALE = 38
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_I128 = pl.Int128
_FRACTION_SCHEMA = {
    "_vector": pl.Boolean,
    "_hi": _I128,
    "_lo": _I128,
    "_scale_hi": _I128,
    "_scale": _I128,
}


def rate_fraction(rate: Decimal, from_currency: str, to_currency: str) -> tuple[int, int]:
    """(n, k) such that converting amount_minor at `rate` is exactly amount_minor * n / 10^k."""
    if not isinstance(rate, Decimal) or not rate.is_finite() or rate <= 0:
        raise ValueError(f"rate must be a positive finite Decimal, got {rate!r}")
    _, digits, exp = rate.as_tuple()
    numerator = int("".join(map(str, digits)))
    scale = -exp - (exponent(to_currency) - exponent(from_currency))
    if scale < 0:
        return numerator * 10**-scale, 0
    return numerator, scale


def fraction_row(rate: Decimal, from_currency: str, to_currency: str) -> dict[str, object]:
    """The limbs of a rate's fraction for the Int128 path, or `_vector` False if it won't fit."""
    numerator, scale = rate_fraction(rate, from_currency, to_currency)
    if scale < LIMB_DIGITS:
        numerator, scale = numerator * 10 ** (LIMB_DIGITS - scale), LIMB_DIGITS
    if numerator >= MAX_NUMERATOR or scale > MAX_SCALE:
        return {"_vector": False, "_hi": None, "_lo": None, "_scale_hi": None, "_scale": None}
    hi, lo = divmod(numerator, 10**LIMB_DIGITS)
    return {
        "_vector": True,
        "_hi": hi,
        "_lo": lo,
        "_scale_hi": 10 ** (scale - LIMB_DIGITS),
        "_scale": 10**scale,
    }


def _rounded(amount: pl.Expr, rule: RoundingRule) -> pl.Expr:
    """amount * n / 10^k rounded with `rule`, from the fraction columns of `fraction_row`."""
    sign = pl.when(amount < 0).then(-1).otherwise(1).cast(_I128)
    magnitude = amount.cast(_I128).abs()
    high = magnitude * pl.col("_hi")
    rest = (high % pl.col("_scale_hi")) * 10**LIMB_DIGITS + magnitude * pl.col("_lo")
    quotient = high // pl.col("_scale_hi") + rest // pl.col("_scale")
    remainder = rest % pl.col("_scale")
    complement = pl.col("_scale") - remainder
    above_half, tie, inexact = remainder > complement, remainder == complement, remainder > 0
    up = {
        RoundingRule.HALF_EVEN: above_half | (tie & (quotient % 2 == 1)),
        RoundingRule.HALF_UP: above_half | tie,
        RoundingRule.HALF_DOWN: above_half,
        RoundingRule.DOWN: pl.lit(False),
        RoundingRule.UP: inexact,
        RoundingRule.FLOOR: inexact & (amount < 0),
        RoundingRule.CEILING: inexact & (amount >= 0),
    }[RoundingRule(rule)]
    return sign * (quotient + up.cast(_I128))


def convert_columns(
    frame: pl.DataFrame,
    outputs: Mapping[str, str],
    to_currency: str,
    rule: str | RoundingRule,
    currency: str = "currency",
    rate: str = "rate",
) -> pl.DataFrame:
    """`frame` plus one Int64 column per `outputs` item (output name -> amount column): the
    amount in `to_currency` minor units at the row's `rate` (exact decimal text), rounded
    once with `rule`, exactly as `convert_minor` would. Raises OverflowError if a result does
    not fit in 64 bits and ValueError on a rate that is not a positive decimal."""
    rule = RoundingRule(rule)
    if frame.height == 0:
        return frame.with_columns(pl.lit(None, dtype=pl.Int64).alias(name) for name in outputs)
    pairs = frame.select(currency, rate).unique()
    fractions = pl.DataFrame(
        [
            {currency: ccy, rate: text, **fraction_row(Decimal(text), ccy, to_currency)}
            for ccy, text in pairs.iter_rows()
        ],
        schema={currency: pl.Utf8, rate: pl.Utf8, **_FRACTION_SCHEMA},
    )
    # Lazy, so the limb products shared by the steps of `_rounded` are computed once.
    wide = (
        frame.lazy()
        .with_row_index("_row")
        .join(fractions.lazy(), on=[currency, rate], how="left", maintain_order="left")
        .with_columns(
            _rounded(pl.col(source), rule).alias(name) for name, source in outputs.items()
        )
        .collect()
    )
    slow = wide.filter(~pl.col("_vector"))
    if slow.height:
        wide = _with_row_by_row(wide, slow, outputs, to_currency, rule, currency, rate)
    too_big = wide.select(
        pl.any_horizontal(~pl.col(name).is_between(INT64_MIN, INT64_MAX) for name in outputs).any()
    ).item()
    if too_big:
        raise OverflowError(f"a converted amount in {to_currency} does not fit in 64 bits")
    return wide.with_columns(pl.col(name).cast(pl.Int64) for name in outputs).drop(
        "_row", *_FRACTION_SCHEMA
    )


def _with_row_by_row(wide, slow, outputs, to_currency, rule, currency, rate) -> pl.DataFrame:
    """Rates too long for two limbs: the reference conversion, row by row (rare)."""
    patch = slow.select("_row")
    for name, source in outputs.items():
        values = [
            None if amount is None else convert_minor(amount, ccy, to_currency, Decimal(text), rule)
            for amount, ccy, text in slow.select(source, currency, rate).iter_rows()
        ]
        if any(v is not None and not INT64_MIN <= v <= INT64_MAX for v in values):
            raise OverflowError(f"a converted amount in {to_currency} does not fit in 64 bits")
        patch = patch.with_columns(pl.Series(name, values, dtype=_I128))
    slow_rows = wide.filter(~pl.col("_vector")).drop(*outputs).join(patch, on="_row")
    return pl.concat([wide.filter(pl.col("_vector")), slow_rows.select(wide.columns)]).sort("_row")
