"""Plain bank-statement CSV, read through a small declared column mapping."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from billing_pipeline.formats.base import ParseResult, Rejected
from billing_pipeline.formats.fields import (
    FieldError,
    currency_code,
    decimal_str,
    decimal_text,
    optional_decimal,
    parse_date,
    text_or_none,
)
from billing_pipeline.formats.frames import result
from billing_pipeline.formats.text import (
    csv_records,
    decode_utf8,
    field_count_reason,
    printable,
    read_header,
    require_columns,
)


@dataclass(frozen=True)
class CsvMapping:
    """Which column holds what. Give `amount` (signed) or both `debit` and `credit`."""

    account_id: str
    booking_date: str
    currency: str
    amount: str | None = None
    debit: str | None = None  # positive numbers = money out
    credit: str | None = None  # positive numbers = money in
    value_date: str | None = None
    entry_ref: str | None = None
    end_to_end_ref: str | None = None
    remittance_info: str | None = None
    counterparty: str | None = None
    tx_code: str | None = None
    statement_id: str | None = None
    date_format: str = "%Y-%m-%d"
    decimal_separator: str = "."
    delimiter: str = ","

    def __post_init__(self) -> None:
        if (self.amount is None) == (self.debit is None or self.credit is None):
            raise ValueError("CsvMapping needs either `amount` or both `debit` and `credit`")

    def columns(self) -> list[str]:
        names = [
            self.account_id, self.booking_date, self.currency, self.amount, self.debit,
            self.credit, self.value_date, self.entry_ref, self.end_to_end_ref,
            self.remittance_info, self.counterparty, self.tx_code, self.statement_id,
        ]  # fmt: skip
        return [name for name in names if name is not None]


DEFAULT_MAPPING = CsvMapping(
    account_id="account_id",
    booking_date="booking_date",
    value_date="value_date",
    amount="amount",
    currency="currency",
    entry_ref="reference",
    remittance_info="description",
    counterparty="counterparty",
)


def parse(content: bytes, file_name: str, mapping: CsvMapping = DEFAULT_MAPPING) -> ParseResult:
    records = csv_records(decode_utf8(content), mapping.delimiter)
    header, columns = read_header(records, f"bank CSV {file_name}")
    require_columns(columns, mapping.columns(), "bank CSV with this mapping")
    lines: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    for record in records:
        reason = field_count_reason(record, len(header.fields))
        if reason is None:
            row = {name: record.fields[i] for name, i in columns.items()}
            try:
                lines.append({**_line(row, mapping), "source_line": record.line_no})
                continue
            except FieldError as exc:
                reason = str(exc)
        rejected.append(Rejected(record.line_no, reason, printable(record.raw)))
    return result({"bank_lines": lines}, rejected)


def _optional(row: dict[str, str], column: str | None) -> str | None:
    return text_or_none(row[column]) if column is not None else None


def _line(row: dict[str, str], m: CsvMapping) -> dict[str, Any]:
    sep = m.decimal_separator
    if m.amount is not None:
        amount = decimal_text(row[m.amount], m.amount, sep)
    else:
        assert m.debit is not None and m.credit is not None
        debit = optional_decimal(row[m.debit], m.debit, sep)
        credit = optional_decimal(row[m.credit], m.credit, sep)
        if debit is None and credit is None:
            raise FieldError(f"both {m.debit} and {m.credit} are empty")
        amount = decimal_str(Decimal(credit or 0) - Decimal(debit or 0))
    account = _optional(row, m.account_id)
    if account is None:
        raise FieldError(f"{m.account_id} is empty")
    value_date = _optional(row, m.value_date)
    return {
        "bank_format": "csv",
        "account_id": account,
        "statement_id": _optional(row, m.statement_id),
        "entry_ref": _optional(row, m.entry_ref),
        "end_to_end_ref": _optional(row, m.end_to_end_ref),
        "booking_date": parse_date(row[m.booking_date], m.booking_date, m.date_format),
        "value_date": parse_date(value_date, m.value_date or "", m.date_format)
        if value_date
        else None,
        "currency": currency_code(row[m.currency], m.currency),
        "amount": amount,
        "tx_code": _optional(row, m.tx_code),
        "counterparty": _optional(row, m.counterparty),
        "remittance_info": _optional(row, m.remittance_info),
    }
