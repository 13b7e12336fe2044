"""Adyen Settlement details report (legacy 30-column and current 49-column layouts), by header.

Debit and credit sit in separate columns (the unused side is empty); the fee breakdown columns
are summed (not `Gross Fees (NC)`, which is their total); `Creation Date` is local to the
row's `TimeZone` abbreviation. `MerchantPayout` rows become payouts, every other row a
settlement line.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from typing import Any

import polars as pl

from billing_pipeline.formats import adyen_fast, csv_fast
from billing_pipeline.formats.base import ParseResult, Rejected, UnreadableFile, empty_frame
from billing_pipeline.formats.fields import (
    FieldError,
    currency_code,
    decimal_str,
    optional_decimal,
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
    "Settled": "charge",
    "Refunded": "refund",
    "Chargeback": "chargeback",
    "ChargebackReversed": "chargeback_reversal",
    "Fee": "fee",
    "InvoiceDeduction": "fee",
    "PaymentCost": "fee",
}
PAYOUT_TYPE = "MerchantPayout"
FEE_COLUMNS = [
    "Commission (NC)",
    "Markup (NC)",
    "Scheme Fees (NC)",
    "Interchange (NC)",
    "Payment Fees (NC)",
    "DCC Markup (NC)",
]
REQUIRED = [
    "Merchant Account",
    "Creation Date",
    "TimeZone",
    "Type",
    "Modification Reference",
    "Net Currency",
    "Net Debit (NC)",
    "Net Credit (NC)",
    "Batch Number",
]
# Fixed UTC offsets (hours) of the abbreviations Adyen writes. Ambiguous ones are read the way
# a payments platform most likely means them: IST = India, CST = US Central.
ZONE_OFFSETS: dict[str, float] = {
    "UTC": 0, "GMT": 0, "WET": 0, "WEST": 1, "BST": 1, "CET": 1, "CEST": 2, "MET": 1,
    "MEST": 2, "EET": 2, "EEST": 3, "MSK": 3, "SAST": 2, "IST": 5.5, "SGT": 8, "HKT": 8,
    "AWST": 8, "JST": 9, "KST": 9, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11,
    "NZST": 12, "NZDT": 13, "BRT": -3, "ART": -3, "EST": -5, "EDT": -4, "CST": -6, "CDT": -5,
    "MST": -7, "MDT": -6, "PST": -8, "PDT": -7, "AKST": -9, "AKDT": -8, "HST": -10,
}  # fmt: skip
# The same offsets in whole minutes, for the vectorised reader (every offset is a whole minute).
_ZONE_MINUTES = {name: round(hours * 60) for name, hours in ZONE_OFFSETS.items()}
_NUMERIC_ZONE = re.compile(r"^(?:UTC|GMT)?([+-])(\d{1,2})(?::?(\d{2}))?$")


def zone_offset(abbreviation: str | None) -> timedelta:
    text = (abbreviation or "").strip().upper()
    if text in ZONE_OFFSETS:
        return timedelta(hours=ZONE_OFFSETS[text])
    match = _NUMERIC_ZONE.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return sign * timedelta(hours=int(match.group(2)), minutes=int(match.group(3) or 0))
    raise FieldError(f"unknown TimeZone {abbreviation!r}: cannot place Creation Date in UTC")


def parse(content: bytes, file_name: str) -> ParseResult:
    text = decode_utf8(content)
    split = csv_fast.split_records(text)
    if split is None:
        records: Iterator[CsvRecord] = csv_records(text)
        header, columns = read_header(records, f"Adyen report {file_name}")
    else:
        header, columns = read_header(iter([split.header]), f"Adyen report {file_name}")
    if "Merchant/Company" in columns or "Aggregation" in columns:
        raise UnreadableFile(
            "Adyen *aggregate* settlement details report (summary lines before the header) "
            "is not supported; deliver the Settlement details report "
            "(settlement_detail_report_batch_N.csv)"
        )
    require_columns(columns, REQUIRED, "Adyen Settlement details report")
    fast = empty_frame("settlement_lines")
    if split is not None:
        fast, rest = adyen_fast.read_rows(
            split.fast, columns, LINE_TYPES, _ZONE_MINUTES, FEE_COLUMNS, PAYOUT_TYPE
        )
        records = csv_fast.in_order(split.slow, csv_fast.records_of(split, rest))

    rows: dict[str, list[dict[str, Any]]] = {"settlement_lines": [], "payouts": []}
    rejected: list[Rejected] = []
    for record in records:
        reason = field_count_reason(record, len(header.fields))
        if reason is None:
            row = {name: record.fields[i] for name, i in columns.items()}
            try:
                frame, values = _read_row(row, record.line_no)
            except FieldError as exc:
                reason = str(exc)
            else:
                rows[frame].append({**values, "processor": "adyen", "source_line": record.line_no})
                continue
        rejected.append(Rejected(record.line_no, reason, printable(record.raw)))
    parsed = result(rows, rejected)
    if fast.height:
        lines = pl.concat([fast, parsed.frames["settlement_lines"]]).sort("source_line")
        parsed.frames["settlement_lines"] = lines
    return parsed


def _amount(row: dict[str, str], column: str) -> Decimal:
    text = optional_decimal(row.get(column), column)
    return Decimal(text) if text is not None else Decimal(0)


def _read_row(row: dict[str, str], line_no: int) -> tuple[str, dict[str, Any]]:
    kind = text_or_none(row["Type"])
    if kind is None:
        raise FieldError("Type is empty")
    merchant_account = text_or_none(row["Merchant Account"])
    if merchant_account is None:
        raise FieldError("Merchant Account is empty")
    batch = text_or_none(row["Batch Number"])
    payout_ref = f"{merchant_account}:{batch}" if batch else None
    created = parse_naive_instant(
        row["Creation Date"], "Creation Date", zone_offset(row["TimeZone"])
    )
    currency = currency_code(row["Net Currency"], "Net Currency")
    if not (text_or_none(row["Net Debit (NC)"]) or text_or_none(row["Net Credit (NC)"])):
        raise FieldError("both Net Debit (NC) and Net Credit (NC) are empty")
    net = _amount(row, "Net Credit (NC)") - _amount(row, "Net Debit (NC)")
    modification_ref = text_or_none(row["Modification Reference"])

    if kind == PAYOUT_TYPE:
        if payout_ref is None:
            raise FieldError("MerchantPayout row without Batch Number")
        return "payouts", {
            "payout_ref": payout_ref,
            "bank_reference": modification_ref or payout_ref,
            "created_at": created,
            "arrival_date": None,
            "currency": currency,
            "amount": decimal_str(-net),  # paid out = Net Debit (NC)
        }

    psp_ref = text_or_none(row.get("Psp Reference"))
    fee = sum((_amount(row, c) for c in FEE_COLUMNS if c in row), Decimal(0))
    gross_currency = text_or_none(row.get("Gross Currency"))
    has_gross = any(text_or_none(row.get(c)) for c in ("Gross Debit (GC)", "Gross Credit (GC)"))
    original = _amount(row, "Gross Credit (GC)") - _amount(row, "Gross Debit (GC)")
    rate = optional_decimal(row.get("Exchange Rate"), "Exchange Rate")
    # Batch-level rows (fees, corrections) have no PSP reference and a free-text modification
    # reference ("Transaction Fees June 2013"): build one that is unique within the file.
    line_ref = (
        modification_ref
        if psp_ref and modification_ref
        else f"{merchant_account}:{batch or ''}:{kind}:{line_no}"
    )
    return "settlement_lines", {
        "line_ref": line_ref,
        "line_type": LINE_TYPES.get(kind, "adjustment"),
        "processor_ref": psp_ref,
        "merchant_ref": text_or_none(row.get("Merchant Reference")),
        "payout_ref": payout_ref,
        "occurred_at": created,
        "available_on": None,
        "currency": currency,
        "gross_amount": decimal_str(net + fee),
        "fee_amount": decimal_str(fee),
        "net_amount": decimal_str(net),
        "original_currency": currency_code(gross_currency, "Gross Currency")
        if gross_currency
        else currency,
        "original_amount": decimal_str(original) if has_gross else decimal_str(net + fee),
        "exchange_rate": rate,
        "description": kind if psp_ref else f"{kind}: {modification_ref or ''}".rstrip(": "),
    }
