"""Stripe report CSVs, read by header name (users choose and reorder the columns).

Two report families:
* itemized balance change / payout reconciliation (one row per balance transaction, with
  `balance_transaction_id` and `reporting_category`) -> settlement_lines, and its
  `payout` rows -> payouts;
* itemized payouts (one row per payout, with `payout_id`) -> payouts.
Amounts are major-unit decimals with a configurable decimal separator; `net = gross - fee`.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import polars as pl

from billing_pipeline.formats import csv_fast, stripe_fast
from billing_pipeline.formats.base import ParseResult, Rejected, UnreadableFile, empty_frame
from billing_pipeline.formats.fields import (
    FieldError,
    currency_code,
    date_prefix,
    decimal_text,
    negate,
    parse_naive_instant,
    text_or_none,
)
from billing_pipeline.formats.frames import result
from billing_pipeline.formats.text import (
    CsvRecord,
    csv_records,
    decode_utf8,
    field_count_reason,
    printable,
    read_header,
    require_columns,
)

LINE_TYPES = {
    "charge": "charge",
    "refund": "refund",
    "partial_capture_reversal": "refund",
    "dispute": "chargeback",
    "dispute_reversal": "chargeback_reversal",
    "fee": "fee",
    "network_cost": "fee",
    "tax": "fee",
}
_AMOUNTS = ["gross", "fee", "net"]


def parse(content: bytes, file_name: str, *, decimal_separator: str = ".") -> ParseResult:
    text = decode_utf8(content)
    split = csv_fast.split_records(text) if decimal_separator == "." else None
    if split is None:
        records: Iterator[CsvRecord] = csv_records(text)
        header, columns = read_header(records, f"Stripe report {file_name}")
    else:
        header, columns = read_header(iter([split.header]), f"Stripe report {file_name}")
    read_row, time_column = _report_kind(columns)
    notes = []
    if time_column == "created":
        notes.append("no created_utc column: 'created' read as UTC (report timezone unknown)")
    fast = empty_frame("settlement_lines")
    if split is not None:
        records = iter(split.slow)
        if read_row is _balance_report_row:
            fast, rest = stripe_fast.read_balance_rows(split.fast, columns, LINE_TYPES)
            records = csv_fast.in_order(split.slow, csv_fast.records_of(split, rest))
        else:
            records = csv_fast.in_order(split.slow, csv_fast.records_of(split, split.fast))
    rows: dict[str, list[dict[str, Any]]] = {"settlement_lines": [], "payouts": []}
    rejected: list[Rejected] = []
    for record in records:
        reason = field_count_reason(record, len(header.fields))
        if reason is None:
            row = {name: record.fields[i] for name, i in columns.items()}
            try:
                frame, values = read_row(row, decimal_separator)
            except FieldError as exc:
                reason = str(exc)
            else:
                rows[frame].append({**values, "processor": "stripe", "source_line": record.line_no})
                continue
        rejected.append(Rejected(record.line_no, reason, printable(record.raw)))
    parsed = result(rows, rejected, notes)
    if fast.height:
        lines = pl.concat([fast, parsed.frames["settlement_lines"]]).sort("source_line")
        parsed.frames["settlement_lines"] = lines
    return parsed


def _report_kind(columns: dict[str, int]) -> tuple[Any, str | None]:
    """The row reader for the report the header names, and its time column."""
    if "payout_id" in columns:
        require_columns(columns, ["payout_id", "currency", "net"], "Stripe itemized payouts report")
        return _payout_report_row, None
    require_columns(
        columns,
        ["balance_transaction_id", "reporting_category", "currency", *_AMOUNTS],
        "Stripe itemized balance/payout reconciliation report",
    )
    time_column = "created_utc" if "created_utc" in columns else "created"
    if time_column not in columns:
        raise UnreadableFile("Stripe report has neither created_utc nor created column")
    return _balance_report_row, time_column


def _get(row: dict[str, str], name: str) -> str | None:
    return text_or_none(row.get(name))


def _first(row: dict[str, str], *names: str) -> str | None:
    for name in names:
        value = _get(row, name)
        if value is not None:
            return value
    return None


def _occurred_at(row: dict[str, str], *names: str) -> Any:
    name = next((n for n in names if n in row), names[-1])
    return parse_naive_instant(row.get(name), name)


def _balance_report_row(row: dict[str, str], sep: str) -> tuple[str, dict[str, Any]]:
    line_ref = _get(row, "balance_transaction_id")
    if line_ref is None:
        raise FieldError("balance_transaction_id is empty")
    currency = currency_code(row["currency"])
    gross, fee, net = (decimal_text(row[a], a, sep) for a in _AMOUNTS)
    category = (_get(row, "reporting_category") or "").lower()
    occurred_at = _occurred_at(row, "created_utc", "created")
    payout_id = _first(row, "automatic_payout_id")
    if category == "payout":
        # The default columns (H1) carry no payout id: the payout's own balance transaction
        # id is then the only stable reference the file gives.
        payout_ref = _first(row, "payout_id", "automatic_payout_id", "source_id") or line_ref
        return "payouts", {
            "payout_ref": payout_ref,
            "bank_reference": _get(row, "trace_id") or payout_ref,
            "created_at": occurred_at,
            "arrival_date": _arrival_date(row),
            "currency": currency,
            # a payout leaves the Stripe balance (negative net) and arrives at the bank
            "amount": negate(net),
        }
    original_currency = _get(row, "customer_facing_currency")
    original_amount = _get(row, "customer_facing_amount")
    return "settlement_lines", {
        "line_ref": line_ref,
        "line_type": LINE_TYPES.get(category, "adjustment"),
        "processor_ref": _first(row, "charge_id", "source_id"),
        "merchant_ref": _get(row, "payment_metadata[payment_id]"),
        "payout_ref": payout_id,
        "occurred_at": occurred_at,
        "available_on": date_prefix(
            _first(row, "available_on_utc", "available_on"), "available_on_utc"
        ),
        "currency": currency,
        "gross_amount": gross,
        "fee_amount": fee,
        "net_amount": net,
        "original_currency": currency_code(original_currency, "customer_facing_currency")
        if original_currency
        else currency,
        "original_amount": decimal_text(original_amount, "customer_facing_amount", sep)
        if original_amount
        else gross,
        "exchange_rate": None,
        "description": _get(row, "description"),
    }


def _arrival_date(row: dict[str, str]) -> Any:
    for name in (
        "payout_expected_arrival_date",
        "automatic_payout_effective_at_utc",
        "automatic_payout_effective_at",
    ):
        value = _get(row, name)
        if value is not None:
            return date_prefix(value, name)
    return None


def _payout_report_row(row: dict[str, str], sep: str) -> tuple[str, dict[str, Any]]:
    payout_ref = _first(row, "payout_id", "automatic_payout_id")
    if payout_ref is None:
        raise FieldError("payout_id is empty")
    return "payouts", {
        "payout_ref": payout_ref,
        "bank_reference": _get(row, "trace_id") or payout_ref,
        "created_at": _occurred_at(row, "effective_at_utc", "created_utc", "effective_at"),
        "arrival_date": _arrival_date(row),
        "currency": currency_code(row["currency"]),
        # In this report a normal payout is positive (paid to the bank), a debit payout negative.
        "amount": decimal_text(row["net"], "net", sep),
    }
