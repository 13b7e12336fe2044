"""Vectorised mirrors of `fields.py` for the values they can prove good.

Each returns (value, ok): `ok` is true only where the row-by-row reader is certain to give
the same value without an error. Only ASCII digits and letters are accepted (the row reader's
`\\d` and `str.upper` also take other scripts); where `ok` is false the row goes back to the
row reader, which gives the value or the reason.
"""

from __future__ import annotations

import polars as pl


def text_or_none(raw: pl.Expr) -> pl.Expr:
    """`fields.text_or_none`: stripped, empty -> null (fields hold no control characters,
    where `str.strip` and polars' whitespace differ)."""
    stripped = raw.str.strip_chars()
    return pl.when(stripped != "").then(stripped)


def decimal_text(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """`fields.decimal_text` with '.' as separator, of an already stripped value."""
    parts = value.str.extract_groups(r"^([+-]?)([0-9]*)(?:\.([0-9]*))?$")
    sign, digits = parts.struct.field("1"), parts.struct.field("2")
    fraction = parts.struct.field("3").fill_null("")
    whole = digits.str.strip_chars_start("0")
    whole = pl.when(whole == "").then(pl.lit("0")).otherwise(whole)
    normalised = pl.when(fraction != "").then(whole + "." + fraction).otherwise(whole)
    zero = (whole + fraction).str.contains("^0*$")
    text = pl.when(zero | (sign != "-")).then(normalised).otherwise("-" + normalised)
    ok = sign.is_not_null() & ((digits.str.len_bytes() + fraction.str.len_bytes()) > 0)
    return text, ok.fill_null(False)


def currency_code(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """`fields.currency_code` of an already stripped value."""
    return value.str.to_uppercase(), value.str.contains("^[A-Za-z]{3}$").fill_null(False)


def day(text: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """A strict 'YYYY-MM-DD' that names a real day, years 1000-9999."""
    parsed = text.str.to_date("%Y-%m-%d", strict=False)
    year = text.str.slice(0, 4).cast(pl.Int32, strict=False)
    ok = (
        text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
        & (parsed.dt.year() == year)
        & (parsed.dt.month() == text.str.slice(5, 2).cast(pl.Int8, strict=False))
        & (parsed.dt.day() == text.str.slice(8, 2).cast(pl.Int8, strict=False))
        & year.is_between(1000, 9999)
    )
    return parsed, ok.fill_null(False)


def date_prefix(value: pl.Expr) -> tuple[pl.Expr, pl.Expr]:
    """`fields.date_prefix` of an already stripped value (null stays null)."""
    parsed, ok = day(value.str.slice(0, 10))
    tail_ok = (value.str.len_chars() == 10) | value.str.slice(10, 1).is_in([" ", "T"])
    return parsed, value.is_null() | (ok & tail_ok).fill_null(False)


def naive_instant(raw: pl.Expr, offset_minutes: pl.Expr | int = 0) -> tuple[pl.Expr, pl.Expr]:
    """`fields.parse_naive_instant`: 'YYYY-MM-DD HH:MM[:SS]' (or 'T') at a fixed offset -> UTC."""
    text = raw.str.strip_chars()
    form = text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}(?::[0-9]{2})?$")
    parsed, day_ok = day(text.str.slice(0, 10))

    def number(start: int) -> pl.Expr:
        return text.str.slice(start, 2).cast(pl.Int64, strict=False)

    hour, minute = number(11), number(14)
    second = pl.when(text.str.len_chars() == 19).then(number(17)).otherwise(0)
    local = parsed.cast(pl.Datetime("us")) + pl.duration(hours=hour, minutes=minute, seconds=second)
    instant = (local - pl.duration(minutes=offset_minutes)).dt.replace_time_zone("UTC")
    ok = (
        form
        & day_ok
        & parsed.dt.year().is_between(1001, 9998)
        & hour.is_between(0, 23)
        & minute.is_between(0, 59)
        & second.is_between(0, 59)
    )
    return instant, ok.fill_null(False)
