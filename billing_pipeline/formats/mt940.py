"""SWIFT MT940 customer statements: a thin tolerant layer around the `mt-940` library.

The layer owns the file's structure (decoding, FIN block wrappers, statements, tags and their
line numbers, balances, the `:86:` narrative of each entry) and hands each `:61:` statement line
to mt-940 on its own. So a quirk the library rejects (an empty `:28C:`, a `:61:` with an
over-long customer reference followed by free text, a statement-level `:86:` after `:62F:`)
costs at most that one entry, never the rest of the file.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import mt940

from billing_pipeline.formats.base import ParseResult, Rejected, UnreadableFile
from billing_pipeline.formats.fields import FieldError, decimal_str, decimal_text
from billing_pipeline.formats.frames import result
from billing_pipeline.formats.text import physical_lines

_TAG = re.compile(r"^:(\d{2}[A-Z]?|NS):")
_FIN_OPEN = re.compile(r"^\{1:[^}]*\}(?:\{[23]:[^}]*\})*(?:\{3:\{[^}]*\}\})?\{4:(.*)$")
_FIN_PART = re.compile(r"^\{[1235]:.*\}$|^\{4:$")
_BALANCE = re.compile(r"^([CD])(\d{6})([A-Z]{3})([\d,]+)$")
BALANCE_TAGS = {
    "60F": "opening",
    "60M": "interim_opening",
    "62F": "closing",
    "62M": "interim_closing",
    "64": "closing_available",
    "65": "forward_available",
}
_SWIFT_LINE_WIDTH = 65  # a :86: content line (tag not counted) this long was wrapped
# mt-940 logs every pattern miss at ERROR before raising; this layer retries and turns a final
# miss into a Rejected record with the reason, so the log lines are only noise.
logging.getLogger("mt940.tags").setLevel(logging.CRITICAL)
_OPTIONS = mt940.Options(reversal_sign=True, case_insensitive_marks=True)
# Tried in order on one :61: line: the standard pattern, then the library's own relaxed
# variants for banks that put an IBAN (34x) in the 16x customer reference.
_STATEMENT_TAGS = [None, mt940.tags.StatementGLS(), mt940.tags.StatementASNB()]


@dataclass
class _Tag:
    name: str
    line_no: int
    lines: list[str]  # first line without the ":XX:" prefix, then continuation lines


@dataclass
class _Statement:
    tags: list[_Tag] = field(default_factory=list)


def decode(content: bytes) -> tuple[str, str | None]:
    """Text and, when it was not UTF-8, a note naming the code page that was guessed."""
    if content.startswith(b"\xef\xbb\xbf"):
        content = content[3:]
    try:
        return content.decode("utf-8"), None
    except UnicodeDecodeError:
        pass

    def letters(encoding: str) -> int:
        return sum(ch.isalpha() for ch in content.decode(encoding) if ord(ch) > 127)

    # CP852 (DOS Latin-2, Central Europe) puts letters where Latin-1 has C1 controls and
    # symbols; the code page that turns more of the high bytes into letters is the one meant.
    encoding = "cp852" if letters("cp852") > letters("latin-1") else "latin-1"
    return content.decode(encoding), f"not UTF-8: decoded as {encoding}"


def _clean_line(line: str) -> str:
    """One physical line without control characters or SWIFT FIN block wrappers."""
    line = "".join(ch for ch in line if ch in "\t" or unicodedata.category(ch) != "Cc")
    line = line.rstrip()
    opened = _FIN_OPEN.match(line)
    if opened:
        return opened.group(1)
    if line.startswith("-}"):
        return "-"
    if _FIN_PART.match(line):
        return ""
    return line


def _statements(text: str) -> list[_Statement]:
    statements: list[_Statement] = []
    current: _Statement | None = None
    last_tag: _Tag | None = None
    for line_no, raw in enumerate(physical_lines(text), start=1):
        line = _clean_line(raw)
        match = _TAG.match(line)
        if match:
            name = match.group(1)
            if name == "20" or current is None:
                current = _Statement()
                statements.append(current)
            last_tag = _Tag(name, line_no, [line[match.end() :]])
            current.tags.append(last_tag)
        elif line.strip() == "-":
            last_tag = None  # end of statement: what follows until the next :20: is envelope
        elif last_tag is not None:
            last_tag.lines.append(line)
    return statements


def parse(content: bytes, file_name: str) -> ParseResult:
    if not content.strip():
        raise UnreadableFile("empty file")
    text, encoding_note = decode(content)
    statements = _statements(text)
    if not any(tag.name == "20" for s in statements for tag in s.tags):
        raise UnreadableFile("not an MT940 statement: no :20: tag")
    rows: dict[str, list[dict[str, Any]]] = {"bank_lines": [], "bank_balances": []}
    rejected: list[Rejected] = []
    notes = [encoding_note] if encoding_note else []
    for statement in statements:
        _read_statement(statement, rows, rejected, notes)
    return result(rows, rejected, notes)


def _first(statement: _Statement, *names: str) -> str | None:
    for tag in statement.tags:
        if tag.name in names:
            return tag.lines[0].strip() or None
    return None


def _raw(tag: _Tag, *more: _Tag) -> str:
    return "\n".join(f":{t.name}:" + "\n".join(t.lines).rstrip() for t in (tag, *more))


def _read_statement(
    statement: _Statement,
    rows: dict[str, list[dict[str, Any]]],
    rejected: list[Rejected],
    notes: list[str],
) -> None:
    reference = _first(statement, "20")
    number = _first(statement, "28C", "28")
    header = {
        "bank_format": "mt940",
        "account_id": _first(statement, "25"),
        "statement_id": f"{reference}/{number}" if reference and number else reference or number,
    }
    currency = None
    for tag in statement.tags:
        if tag.name in BALANCE_TAGS:
            try:
                balance = _balance(tag)
            except FieldError as exc:
                rejected.append(Rejected(tag.line_no, str(exc), _raw(tag)))
                continue
            currency = currency or balance["currency"]
            rows["bank_balances"].append({**header, **balance, "source_line": tag.line_no})
    for position, tag in enumerate(statement.tags):
        if tag.name != "61":
            continue
        following = statement.tags[position + 1 : position + 2]
        narrative = following[0] if following and following[0].name == "86" else None
        try:
            if currency is None:
                raise FieldError("statement has no balance (:60F:/:62F:) giving the currency")
            line = _entry(tag, narrative)
        except FieldError as exc:
            extra = (narrative,) if narrative else ()
            rejected.append(Rejected(tag.line_no, str(exc), _raw(tag, *extra)))
            continue
        rows["bank_lines"].append(
            {**header, **line, "currency": currency, "source_line": tag.line_no}
        )


def _balance(tag: _Tag) -> dict[str, Any]:
    match = _BALANCE.match(tag.lines[0].strip())
    if match is None:
        raise FieldError(
            f":{tag.name}: balance {tag.lines[0]!r} is not D/C mark, YYMMDD, currency, amount"
        )
    mark, yymmdd, currency, amount_text = match.groups()
    amount = decimal_text(amount_text, f":{tag.name}: amount", decimal_separator=",")
    try:
        as_of = mt940.models.Date(year=yymmdd[:2], month=yymmdd[2:4], day=yymmdd[4:])
    except ValueError:
        raise FieldError(f"bad date {yymmdd!r} in :{tag.name}:") from None
    return {
        "balance_type": BALANCE_TAGS[tag.name],
        "as_of_date": as_of,
        "currency": currency,
        "amount": decimal_str(-Decimal(amount)) if mark == "D" else amount,
    }


# The head of a :61: line in SWIFT's own syntax: value date, optional entry date, mark (with
# an optional reversal R and funds code), amount with its decimal comma, then the type code.
# The library's patterns are lenient enough to read `D6x0,42NTRF` as an amount of 6: a line
# whose head does not have this shape is rejected rather than read with a wrong amount.
_STATEMENT_LINE_HEAD = re.compile(
    r"^\d{6}(?:\d{4})?\s*(?:R?[DC]|[DC]R?|E[DC])[A-Z]?\d[\d]*[,.]\d*[NSF][A-Z0-9]{2}[A-Z0-9 ]",
    re.IGNORECASE,
)


def _library_statement_line(tag: _Tag) -> dict[str, Any]:
    if not _STATEMENT_LINE_HEAD.match(tag.lines[0]):
        raise _unreadable_statement_line(tag)
    text = ":61:" + "\n".join(tag.lines)
    for statement_tag in _STATEMENT_TAGS:
        tags = {61: statement_tag} if statement_tag is not None else None
        transactions = mt940.models.Transactions(tags=tags, options=_OPTIONS)
        try:
            transactions.parse(text)
        except (RuntimeError, ValueError, KeyError, TypeError, ArithmeticError):
            continue
        if len(transactions) == 1:
            return transactions[0].data
    raise _unreadable_statement_line(tag)


def _unreadable_statement_line(tag: _Tag) -> FieldError:
    return FieldError(
        f":61: statement line {tag.lines[0]!r} not readable by mt-940 (expected YYMMDD[MMDD], "
        "D/C mark, amount with its decimal comma, type code, reference[//bank reference])"
    )


def _entry(tag: _Tag, narrative: _Tag | None) -> dict[str, Any]:
    data = _library_statement_line(tag)
    amount = decimal_str(data["amount"].amount)
    value_date = data.get("date")
    booking_date = data.get("entry_date") or value_date
    bank_ref = _reference(data.get("bank_reference"))
    customer_ref = _reference(data.get("customer_reference"))
    details = (data.get("extra_details") or "").strip()
    remittance = _narrative(narrative) if narrative else None
    texts = [t for t in (details, remittance) if t]
    return {
        "entry_ref": bank_ref or customer_ref,
        "end_to_end_ref": _subfield(remittance, "EREF"),
        "booking_date": booking_date,
        "value_date": value_date,
        "amount": amount,
        "tx_code": (data.get("id") or "").strip() or None,
        "counterparty": _subfield(remittance, "NAME"),
        "remittance_info": " ".join(texts) or None,
    }


def _reference(value: str | None) -> str | None:
    text = (value or "").strip()
    return None if not text or text.upper() == "NONREF" else text


def _narrative(tag: _Tag) -> str | None:
    """The :86: lines as one text: wrapped lines (full 65-char width) are glued back."""
    text = ""
    for line in tag.lines:
        stripped = line.strip()
        if stripped:
            text += stripped
            text += "" if len(line) == _SWIFT_LINE_WIDTH else " "
        elif text and not text.endswith(" "):
            text += " "
    return " ".join(text.split()) or None


def _subfield(narrative: str | None, key: str) -> str | None:
    """A SEPA-structured /KEY/value/ subfield (Rabobank, ING new format)."""
    if not narrative:
        return None
    match = re.search(rf"/{key}/(?:/)?([^/]+)", narrative)
    return match.group(1).strip() if match else None
