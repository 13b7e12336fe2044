"""Exchange-rate override file: `date,base_currency,quote_currency,rate` (1 base = rate quote)."""

from __future__ import annotations

from typing import Any

from billing_pipeline.formats.base import ParseResult, Rejected
from billing_pipeline.formats.fields import FieldError, currency_code, decimal_text, parse_date
from billing_pipeline.formats.frames import result
from billing_pipeline.formats.text import (
    csv_records,
    decode_utf8,
    field_count_reason,
    printable,
    read_header,
    require_columns,
)

COLUMNS = ["date", "base_currency", "quote_currency", "rate"]


def parse(content: bytes, file_name: str) -> ParseResult:
    records = csv_records(decode_utf8(content))
    header, columns = read_header(records, f"rates file {file_name}")
    require_columns(columns, COLUMNS, "rates file (date,base_currency,quote_currency,rate)")
    rates: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for record in records:
        reason = field_count_reason(record, len(header.fields))
        if reason is None:
            row = {name: record.fields[i] for name, i in columns.items()}
            try:
                rates.append(
                    {
                        "rate_date": parse_date(row["date"], "date"),
                        "base_currency": currency_code(row["base_currency"], "base_currency"),
                        "quote_currency": currency_code(row["quote_currency"], "quote_currency"),
                        "rate": decimal_text(row["rate"], "rate"),
                        "source_line": record.line_no,
                    }
                )
                continue
            except FieldError as exc:
                reason = str(exc)
        rejected.append(Rejected(record.line_no, reason, printable(record.raw)))
    return result({"rates": rates}, rejected)
