"""Vectorised `adyen._read_row` for the settlement lines it can prove good.

Decimal arithmetic is done on scaled integers: an amount with at most 12 integer and 6
fraction digits is (digits, scale); a sum or difference takes the larger scale, as Decimal
keeps the smaller exponent, so the text written is what `decimal_str` writes. Payout rows,
and rows with values outside what can be proven, go back to the row reader.
"""

from __future__ import annotations

import polars as pl

from billing_pipeline.formats import fields_fast as ff
from billing_pipeline.formats.base import conform
from billing_pipeline.formats.csv_fast import LINE, header_columns


class _Amount:
    """A decimal as (value Int64, scale Int64), with whether it was proven."""

    def __init__(self, value: pl.Expr, scale: pl.Expr, ok: pl.Expr) -> None:
        self.value, self.scale, self.ok = value, scale, ok

    @staticmethod
    def of(frame: pl.DataFrame, raw: pl.Expr, name: str) -> tuple[pl.DataFrame, _Amount]:
        """`adyen._amount`: empty or missing is Decimal(0), else `decimal_text`."""
        stripped = raw.str.strip_chars()
        text, ok = ff.decimal_text(stripped)
        frame = frame.with_columns(
            text.alias(f"{name}_t"),
            ok.alias(f"{name}_tok"),
            (raw.is_null() | (stripped == "")).alias(f"{name}_empty"),
        )
        text, empty = pl.col(f"{name}_t"), pl.col(f"{name}_empty")
        fraction = text.str.extract(r"\.([0-9]*)$").fill_null("")
        whole = text.str.extract(r"^-?([0-9]+)")
        frame = frame.with_columns(fraction.alias(f"{name}_f"), whole.alias(f"{name}_w"))
        fraction, whole = pl.col(f"{name}_f"), pl.col(f"{name}_w")
        digits = (whole + fraction).cast(pl.Int64, strict=False)
        value = pl.when(text.str.starts_with("-")).then(-digits).otherwise(digits)
        ok = empty | (
            pl.col(f"{name}_tok") & (whole.str.len_bytes() <= 12) & (fraction.str.len_bytes() <= 6)
        ).fill_null(False)
        zero = pl.lit(0, dtype=pl.Int64)
        amount = _Amount(
            pl.when(empty).then(zero).otherwise(value),
            pl.when(empty).then(zero).otherwise(fraction.str.len_bytes().cast(pl.Int64)),
            ok,
        )
        return amount.into(frame, name)

    def into(self, frame: pl.DataFrame, name: str) -> tuple[pl.DataFrame, _Amount]:
        """Computed once as columns of `frame` (an expression tree would repeat its parts)."""
        frame = frame.with_columns(
            self.value.alias(f"{name}_v"),
            self.scale.alias(f"{name}_s"),
            self.ok.alias(f"{name}_ok"),
        )
        return frame, _Amount(pl.col(f"{name}_v"), pl.col(f"{name}_s"), pl.col(f"{name}_ok"))

    def _at(self, scale: pl.Expr) -> pl.Expr:
        return self.value * pl.lit(10, dtype=pl.Int64).pow(scale - self.scale)

    def __add__(self, other: _Amount) -> _Amount:
        scale = pl.max_horizontal(self.scale, other.scale)
        return _Amount(self._at(scale) + other._at(scale), scale, self.ok & other.ok)

    def __neg__(self) -> _Amount:
        return _Amount(-self.value, self.scale, self.ok)

    def __sub__(self, other: _Amount) -> _Amount:
        return self + (-other)

    def text(self) -> pl.Expr:
        """`fields.decimal_str`: exact, no exponent, no negative zero."""
        digits = self.value.abs().cast(pl.Utf8).str.pad_start(self.scale + 1, "0")  # type: ignore[arg-type]
        cut = digits.str.len_chars() - self.scale
        body = (
            pl.when(self.scale > 0)
            .then(digits.str.slice(0, cut) + "." + digits.str.slice(cut))
            .otherwise(digits)
        )
        return pl.when(self.value < 0).then("-" + body).otherwise(body)


def read_rows(
    frame: pl.DataFrame,
    columns: dict[str, int],
    line_types: dict[str, str],
    zone_minutes: dict[str, int],
    fee_columns: list[str],
    payout_type: str,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(settlement lines proven good, the rows of `frame` left to the row reader)."""

    raw, get = header_columns(columns)

    kind, account, batch = get("Type"), get("Merchant Account"), get("Batch Number")
    zone = raw("TimeZone").str.strip_chars()
    offset = zone.str.to_uppercase().replace_strict(
        zone_minutes, default=None, return_dtype=pl.Int64
    )
    created, created_ok = ff.naive_instant(raw("Creation Date"), offset.fill_null(0))
    currency, currency_ok = ff.currency_code(raw("Net Currency").str.strip_chars())
    amounts: dict[str, _Amount] = {}
    sides = ["Net Credit (NC)", "Net Debit (NC)", "Gross Credit (GC)", "Gross Debit (GC)"]
    for position, column in enumerate(sides + [c for c in fee_columns if c in columns]):
        frame, amounts[column] = _Amount.of(frame, raw(column), f"__a{position}")
    frame, net = (amounts["Net Credit (NC)"] - amounts["Net Debit (NC)"]).into(frame, "__net")
    fee = _Amount(pl.lit(0, dtype=pl.Int64), pl.lit(0, dtype=pl.Int64), pl.lit(True))
    for column in fee_columns:
        if column in columns:
            frame, fee = (fee + amounts[column]).into(frame, "__fee")
    frame, original = (amounts["Gross Credit (GC)"] - amounts["Gross Debit (GC)"]).into(
        frame, "__original"
    )
    frame, gross = (net + fee).into(frame, "__gross")
    psp, modification = get("Psp Reference"), get("Modification Reference")
    gross_code = get("Gross Currency")
    gross_currency, gross_currency_ok = ff.currency_code(gross_code)
    has_gross = get("Gross Debit (GC)").is_not_null() | get("Gross Credit (GC)").is_not_null()
    rate_raw = raw("Exchange Rate").str.strip_chars()
    rate, rate_ok = ff.decimal_text(rate_raw)
    rate_missing = rate_raw.is_null() | (rate_raw == "")
    ok = [
        kind.is_not_null(),
        kind != payout_type,
        account.is_not_null(),
        zone.str.contains("^[A-Za-z]+$") & offset.is_not_null(),
        created_ok,
        currency_ok,
        get("Net Debit (NC)").is_not_null() | get("Net Credit (NC)").is_not_null(),
        net.ok,
        fee.ok,
        original.ok,
        gross_code.is_null() | gross_currency_ok,
        rate_missing | rate_ok,
    ]
    batch_text = batch.fill_null("")
    fallback_ref = pl.concat_str(
        [
            account,
            pl.lit(":"),
            batch_text,
            pl.lit(":"),
            kind,
            pl.lit(":"),
            pl.col(LINE).cast(pl.Utf8),
        ]
    )
    frame = frame.with_columns(
        gross.text().alias("__gross_text"), created.alias("__created"), created_ok.alias("__cok")
    )
    created, created_ok = pl.col("__created"), pl.col("__cok")
    read = frame.lazy().select(
        pl.lit("adyen").alias("processor"),
        pl.when(psp.is_not_null() & modification.is_not_null())
        .then(modification)
        .otherwise(fallback_ref)
        .alias("line_ref"),
        kind.replace_strict(line_types, default="adjustment", return_dtype=pl.Utf8).alias(
            "line_type"
        ),
        psp.alias("processor_ref"),
        get("Merchant Reference").alias("merchant_ref"),
        pl.when(batch.is_not_null()).then(account + ":" + batch).alias("payout_ref"),
        created.alias("occurred_at"),
        pl.lit(None, dtype=pl.Date).alias("available_on"),
        currency.alias("currency"),
        pl.col("__gross_text").alias("gross_amount"),
        fee.text().alias("fee_amount"),
        net.text().alias("net_amount"),
        pl.when(gross_code.is_not_null())
        .then(gross_currency)
        .otherwise(currency)
        .alias("original_currency"),
        pl.when(has_gross)
        .then(original.text())
        .otherwise(pl.col("__gross_text"))
        .alias("original_amount"),
        pl.when(rate_missing)
        .then(pl.lit(None, dtype=pl.Utf8))
        .otherwise(rate)
        .alias("exchange_rate"),
        pl.when(psp.is_not_null())
        .then(kind)
        .otherwise(
            pl.concat_str([kind, pl.lit(": "), modification.fill_null("")]).str.strip_chars_end(
                ": "
            )
        )
        .alias("description"),
        pl.col(LINE).alias("source_line"),
        pl.all_horizontal(ok).fill_null(False).alias("__ok"),
    )
    read = read.collect()
    good = conform("settlement_lines", read.filter(pl.col("__ok")))
    failed = read.filter(~pl.col("__ok")).select(pl.col("source_line").alias(LINE))
    rest = frame.join(failed, on=LINE).select(pl.selectors.starts_with("column_"), LINE)
    return good, rest
