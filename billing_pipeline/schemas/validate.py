"""Validate a parsed canonical frame: amounts to minor units, then the pandera contract.

Every input row ends either in the valid frame or in the rejected frame (once, with all its
reasons joined by '; '): `len(valid) + len(rejected) == len(df)`.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from billing_pipeline.formats.base import FRAMES, conform
from billing_pipeline.schemas.minor_units import with_minor_units
from billing_pipeline.schemas.models import MODELS

# frame -> (decimal text column, its currency column, the minor-units column it becomes)
AMOUNT_COLUMNS: dict[str, list[tuple[str, str, str]]] = {
    "settlement_lines": [
        ("gross_amount", "currency", "gross_minor"),
        ("fee_amount", "currency", "fee_minor"),
        ("net_amount", "currency", "net_minor"),
        ("original_amount", "original_currency", "original_minor"),
    ],
    "payouts": [("amount", "currency", "amount_minor")],
    "bank_lines": [("amount", "currency", "amount_minor")],
    "bank_balances": [("amount", "currency", "amount_minor")],
    "billing_events": [],
    "rates": [],
}
# Within one file a processor's line or payout appears once; a repeat would be counted twice.
UNIQUE_KEYS: dict[str, str] = {"settlement_lines": "line_ref", "payouts": "payout_ref"}
REJECTED_SCHEMA = {"source_line": pl.Int64, "reason": pl.Utf8, "raw_record": pl.Utf8}
_ROW, _REASON = "__row", "__reason"


def validate(frame_name: str, df: pl.DataFrame) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(valid rows in the validated schema, rejected rows: source_line, reason, raw_record)."""
    if frame_name not in MODELS:
        raise ValueError(f"unknown frame {frame_name!r}; expected one of {', '.join(MODELS)}")
    model = MODELS[frame_name]
    columns = list(model.to_schema().columns)
    rows = conform(frame_name, df).with_row_index(_ROW)
    rows = _with_early_reasons(frame_name, rows)

    candidates = rows.filter(pl.col(_REASON).is_null())
    failures = _pandera_failures(model, candidates.select(columns))
    late = (
        candidates.select(_ROW)
        .with_row_index("__position")
        .join(failures, on="__position", how="inner")
    )
    reasons = pl.concat(
        [
            rows.filter(pl.col(_REASON).is_not_null()).select(_ROW, _REASON),
            late.select(_ROW, _REASON),
        ]
    )
    rejected_rows = rows.join(reasons.rename({_REASON: "__why"}), on=_ROW, how="inner")
    valid = rows.join(reasons, on=_ROW, how="anti").sort(_ROW).select(columns)
    rejected = (
        rejected_rows.sort(_ROW)
        .select(
            pl.col("source_line"),
            pl.col("__why").alias("reason"),
            pl.struct(list(FRAMES[frame_name])).struct.json_encode().alias("raw_record"),
        )
        .cast(REJECTED_SCHEMA)  # type: ignore[arg-type]
    )
    return valid, rejected


def _with_early_reasons(frame_name: str, rows: pl.DataFrame) -> pl.DataFrame:
    """Minor-units columns plus the reason a row is rejected before pandera sees it."""
    exprs, reasons = [], []
    for amount, currency, minor in AMOUNT_COLUMNS[frame_name]:
        rows = with_minor_units(rows, amount, currency, minor, f"__why_{minor}")
        reasons.append(pl.concat_str([pl.lit(f"{amount}: "), pl.col(f"__why_{minor}")]))
    key = UNIQUE_KEYS.get(frame_name)
    if key is not None:
        first = pl.col(_ROW).min().over("processor", key)
        first_line = pl.col("source_line").sort_by(_ROW).first().over("processor", key)
        reasons.append(
            pl.when(pl.col(key).is_not_null() & (pl.col(_ROW) != first)).then(
                pl.format(
                    "duplicate {} '{}' (first on line {})", pl.lit(key), pl.col(key), first_line
                )
            )
        )
    joined = pl.concat_str(reasons, separator="; ", ignore_nulls=True) if reasons else pl.lit("")
    exprs.append(pl.when(joined != "").then(joined).otherwise(None).alias(_REASON))
    why = [f"__why_{minor}" for _, _, minor in AMOUNT_COLUMNS[frame_name]]
    return rows.with_columns(exprs).drop(why)


def _pandera_failures(model: type[pa.DataFrameModel], frame: pl.DataFrame) -> pl.DataFrame:
    """Row position -> reasons ('; '-joined) for every row pandera rejects."""
    empty = pl.DataFrame(schema={"__position": pl.UInt32, _REASON: pl.Utf8})
    try:
        model.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as exc:
        cases = exc.failure_cases
    else:
        return empty
    described = cases.select(
        pl.col("index").cast(pl.UInt32).alias("__position"),
        pl.when(pl.col("schema_context") == "Column")
        .then(
            pl.format("{} failed {}", pl.col("column"), pl.col("check"))
            + pl.when(pl.col("failure_case").is_not_null())
            .then(pl.format(" (got '{}')", pl.col("failure_case").str.slice(0, 80)))
            .otherwise(pl.lit(""))
        )
        .otherwise(pl.format("row failed {}", pl.col("check")))
        .alias(_REASON),
    )
    # A failure without a row index (wrong dtype, missing column) condemns every row.
    whole = described.filter(pl.col("__position").is_null())[_REASON].unique().sort().to_list()
    if whole:
        every = pl.DataFrame(
            {"__position": range(frame.height), _REASON: ["; ".join(whole)] * frame.height},
            schema=empty.schema,
        )
        described = pl.concat([described.filter(pl.col("__position").is_not_null()), every])
    return (
        described.unique(maintain_order=True)
        .group_by("__position", maintain_order=True)
        .agg(pl.col(_REASON).str.join("; "))
    )
