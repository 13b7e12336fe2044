"""BAI2 cash management files: a thin tolerant layer around the `bai2` library.

The layer reads the physical records itself (line numbers, CRLF, missing trailing newline,
`88` continuations folded into their record) and gives the library one account block at a
time, so a block the library cannot read costs only that account. The library rejects type
codes it does not know: such a code is replaced by a known one of the same kind before parsing
and restored in `tx_code`. Amounts are integers in the account currency's minor units.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from bai2 import bai2 as bai2_library
from bai2.constants import TypeCodes

from billing_pipeline.domain.money import MoneyError, exponent
from billing_pipeline.formats.base import ParseResult, Rejected, UnreadableFile
from billing_pipeline.formats.fields import decimal_str
from billing_pipeline.formats.frames import result
from billing_pipeline.formats.text import decode_utf8, physical_lines, undecodable_reason

DEFAULT_CURRENCY = "USD"  # BAI2: an omitted currency is the US dollar
BALANCE_CODES = {"010": "opening", "015": "closing", "045": "closing_available"}
_RECORD_CODES = {"01", "02", "03", "16", "49", "88", "98", "99"}
_AVAILABILITY_FIELDS = {"S": 3, "V": 2}


@dataclass
class _Record:
    code: str
    line_no: int
    fields: list[str]  # after the record code, continuations folded in, '/' removed
    raw: list[str] = field(default_factory=list)

    def text(self) -> str:
        return f"{self.code}," + ",".join(self.fields) + "/"


def _records(text: str, rejected: list[Rejected]) -> list[_Record]:
    records: list[_Record] = []
    previous_ended = True  # did the previous physical record end with '/'?
    for line_no, raw_line in enumerate(physical_lines(text), start=1):
        line = raw_line.rstrip("\r\n")
        if not line.strip():
            continue
        code, _, body = line.partition(",")
        reason = undecodable_reason(line)
        if reason is None and code not in _RECORD_CODES:
            reason = f"unknown BAI2 record code {code!r}"
        if reason is None and code == "88" and not records:
            reason = "88 continuation without a record to continue"
        if reason is not None:
            rejected.append(Rejected(line_no, reason, line))
            continue
        ended = body.rstrip().endswith("/")
        body = body.rstrip()[:-1] if ended else body
        if code == "88":
            last = records[-1]
            if last.code == "16" and _has_text(last.fields):
                last.fields[-1] = f"{last.fields[-1]} {body}".strip()
            elif previous_ended:
                last.fields.extend(body.split(","))
            else:  # free text runs on: glue with a space
                last.fields[-1] = f"{last.fields[-1]} {body}".strip()
            last.raw.append(line)
        else:
            records.append(_Record(code, line_no, body.split(","), [line]))
        previous_ended = ended
    return records


def _known_code(code: str) -> str:
    """The code itself if the library knows it, else a generic one of the same kind."""
    if code in TypeCodes:
        return code
    if code.isdigit() and 100 <= int(code) <= 399:
        return "399"
    if code.isdigit() and 400 <= int(code) <= 699:
        return "699"
    return "890"


def _patch_summary_codes(record: _Record) -> list[str]:
    """Replace unknown 03 summary type codes in place; return the original codes in order."""
    originals, position = [], 2
    fields = record.fields
    while position < len(fields):
        if position == len(fields) - 1 and not fields[position]:
            break
        code = fields[position].strip()
        originals.append(code)
        fields[position] = _known_code(code) if code else code
        funds = fields[position + 3].strip().upper() if position + 3 < len(fields) else ""
        position = _skip_availability(fields, position + 4, funds)
    return originals


def _skip_availability(fields: list[str], position: int, funds: str) -> int:
    """Index after the availability fields of `funds`, filling empty amounts with 0 in place
    (the library reads them with int() and fails on an empty one, which BAI2 allows)."""
    if funds == "D" and position < len(fields) and fields[position].strip().isdigit():
        end = position + 1 + 2 * int(fields[position])
        amounts = range(position + 2, min(end, len(fields)), 2)
    else:
        end = position + _AVAILABILITY_FIELDS.get(funds, 0)
        amounts = range(position, min(end, len(fields))) if funds == "S" else range(0)
    for index in amounts:
        fields[index] = fields[index] or "0"
    return end


def _has_text(fields: list[str]) -> bool:
    """Whether a 16 record's free-text field (after the references) has begun."""
    funds = fields[2].strip().upper() if len(fields) > 2 else ""
    return len(fields) > _skip_availability(list(fields), 3, funds) + 2


@dataclass
class _Account:
    identifier: _Record
    details: list[_Record] = field(default_factory=list)
    trailer: _Record | None = None


def parse(content: bytes, file_name: str) -> ParseResult:
    if not content.strip():
        raise UnreadableFile("empty file")
    rejected: list[Rejected] = []
    notes: list[str] = []
    records = _records(decode_utf8(content), rejected)
    if not records or records[0].code != "01":
        raise UnreadableFile("not a BAI2 file: the first record is not a 01 file header")
    file_header = records[0]
    rows: dict[str, list[dict[str, Any]]] = {"bank_lines": [], "bank_balances": []}
    group: _Record | None = None
    account: _Account | None = None
    for record in records[1:]:
        if record.code == "02":
            group, account = record, None
        elif record.code == "03":
            account = _Account(record)
        elif record.code == "16" and account is not None:
            account.details.append(record)
        elif record.code == "49" and account is not None:
            account.trailer = record
            _read_account(file_header, group, account, rows, rejected, notes)
            account = None
        elif record.code in {"98", "99"}:
            if account is not None:  # no 49: read what the account has
                _read_account(file_header, group, account, rows, rejected, notes)
                account = None
        else:
            rejected.append(
                Rejected(record.line_no, f"{record.code} record out of place", _raw(record))
            )
    if account is not None:
        notes.append("file ends inside an account (no 49/98/99 trailers)")
        _read_account(file_header, group, account, rows, rejected, notes)
    if not any(record.code == "99" for record in records):
        # A file cut short in transit: what it holds is read, and the cut itself is put on
        # record in the quarantine, so a truncated delivery never passes as a complete one.
        last = records[-1]
        reason = "no 99 file trailer: the file is truncated or incomplete; entries above it read"
        rejected.append(Rejected(last.line_no, reason, _raw(last)))
    return result(rows, rejected, notes)


def _raw(record: _Record) -> str:
    return "\n".join(record.raw)


def _read_account(
    file_header: _Record,
    group: _Record | None,
    account: _Account,
    rows: dict[str, list[dict[str, Any]]],
    rejected: list[Rejected],
    notes: list[str],
) -> None:
    summary_codes = _patch_summary_codes(account.identifier)
    detail_codes = []
    for detail in account.details:
        detail_codes.append(detail.fields[0].strip() if detail.fields else "")
        if detail.fields:
            detail.fields[0] = _known_code(detail_codes[-1])
        if len(detail.fields) > 2:
            _skip_availability(detail.fields, 3, detail.fields[2].strip().upper())
    group_record = group or _Record("02", 0, ["", "", "1", "", "", "", ""])
    block = [
        file_header.text(),
        group_record.text(),
        account.identifier.text(),
        *(d.text() for d in account.details),
        account.trailer.text() if account.trailer else "49,0,0/",
        "98,0,1,0/",
        "99,0,1,0/",
    ]
    try:
        parsed = bai2_library.parse_from_lines(block, check_integrity=False)
        parsed_group = parsed.children[0]
        parsed_account = parsed_group.children[0]
    except Exception as exc:  # the library raises many kinds; any of them loses this block only
        reason = f"BAI2 account block not readable by bai2: {type(exc).__name__}: {exc}"
        for record in [account.identifier, *account.details]:
            rejected.append(Rejected(record.line_no, reason, _raw(record)))
        return
    header = parsed_account.header
    currency = header.currency or parsed_group.header.currency or DEFAULT_CURRENCY
    as_of = parsed_group.header.as_of_date
    common = {
        "bank_format": "bai2",
        "account_id": header.customer_account_number,
        "statement_id": f"{parsed.header.file_id}/{as_of:%Y%m%d}" if as_of else None,
    }
    try:
        scale = exponent(currency)
    except MoneyError as exc:
        for record in [account.identifier, *account.details]:
            rejected.append(Rejected(record.line_no, str(exc), _raw(record)))
        return
    unused = []
    for code, summary in zip(summary_codes, header.summary_items, strict=False):
        kind = BALANCE_CODES.get(code)
        if kind is None or summary.amount is None:
            unused.extend([code] if code else [])
            continue
        rows["bank_balances"].append(
            {
                **common,
                "balance_type": kind,
                "as_of_date": as_of,
                "currency": currency,
                "amount": decimal_str(Decimal(summary.amount).scaleb(-scale)),
                "source_line": account.identifier.line_no,
            }
        )
    if unused:
        notes.append(
            f"line {account.identifier.line_no}: summary codes {', '.join(unused)} not balances"
        )
    for record, code, detail in zip(
        account.details, detail_codes, parsed_account.children, strict=True
    ):
        _detail_row(record, code, detail, common, currency, scale, as_of, rows, rejected)


def _detail_row(
    record: _Record,
    code: str,
    detail: Any,
    common: dict[str, Any],
    currency: str,
    scale: int,
    as_of: Any,
    rows: dict[str, list[dict[str, Any]]],
    rejected: list[Rejected],
) -> None:
    if not code.isdigit() or not 100 <= int(code) <= 699:
        reason = f"type code {code!r} is neither a credit (100-399) nor a debit (400-699)"
        rejected.append(Rejected(record.line_no, reason, _raw(record)))
        return
    if detail.amount is None:
        rejected.append(Rejected(record.line_no, "16 record without an amount", _raw(record)))
        return
    magnitude = Decimal(abs(detail.amount)).scaleb(-scale)
    availability = detail.availability or {}
    text = " ".join((detail.text or "").split()) or None
    rows["bank_lines"].append(
        {
            **common,
            "entry_ref": (detail.bank_reference or "").strip() or None,
            "end_to_end_ref": (detail.customer_reference or "").strip() or None,
            "booking_date": as_of,
            "value_date": availability.get("date") if isinstance(availability, dict) else None,
            "currency": currency,
            "amount": decimal_str(magnitude if int(code) < 400 else -magnitude),
            "tx_code": code,
            "counterparty": None,
            "remittance_info": text,
            "source_line": record.line_no,
        }
    )
