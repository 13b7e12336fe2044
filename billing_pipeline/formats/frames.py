"""Row dictionaries -> canonical frames, and the usual shape of a parser's result."""

from __future__ import annotations

from typing import Any

import polars as pl

from billing_pipeline.formats.base import FRAMES, ParseResult, Rejected, conform


def rows_frame(name: str, rows: list[dict[str, Any]]) -> pl.DataFrame:
    schema = FRAMES[name]
    columns = {column: [row.get(column) for row in rows] for column in schema}
    return conform(name, pl.DataFrame(columns, schema=schema))


def result(
    rows: dict[str, list[dict[str, Any]]],
    rejected: list[Rejected],
    notes: list[str] | None = None,
) -> ParseResult:
    return ParseResult(
        frames={name: rows_frame(name, frame_rows) for name, frame_rows in rows.items()},
        rejected=rejected,
        notes=notes or [],
    )
