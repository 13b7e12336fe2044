"""Field-level readers shared by the parsers: decimal text, dates, instants, currency codes.

Each raises `FieldError` with a reason that names the field and quotes the value, so that a
parser can turn it into a `Rejected` record as it is.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

_DECIMAL = re.compile(r"^([+-]?)(\d*)(?:\.(\d*))?$")
_CURRENCY = re.compile(r"^[A-Z]{3}$")


class FieldError(ValueError):
    """One field of a record cannot be read; the message is the rejection reason."""


def decimal_text(value: str | None, what: str, decimal_separator: str = ".") -> str:
    """Normalised decimal text in major units: '-12.50', '7.5', '0' (never '-0', no '+').

    Only `decimal_separator` may separate the fraction; thousands marks, exponents and spaces
    inside the number are errors, because guessing them is how amounts go wrong by 1000x.
    """
    text = (value or "").strip()
    if not text:
        raise FieldError(f"{what} is empty")
    if decimal_separator != ".":
        if "." in text:
            raise FieldError(
                f"{what} {value!r} uses '.' but the separator is {decimal_separator!r}"
            )
        text = text.replace(decimal_separator, ".")
    match = _DECIMAL.match(text)
    if match is None or not (match.group(2) or match.group(3)):
        raise FieldError(f"{what} {value!r} is not a decimal amount")
    sign, whole, fraction = match.group(1), match.group(2) or "0", match.group(3) or ""
    whole = whole.lstrip("0") or "0"
    normalised = f"{whole}.{fraction}" if fraction else whole
    if set(whole + fraction) == {"0"}:
        return normalised  # negative zero is zero: no sign
    return f"-{normalised}" if sign == "-" else normalised


def optional_decimal(value: str | None, what: str, decimal_separator: str = ".") -> str | None:
    if value is None or not value.strip():
        return None
    return decimal_text(value, what, decimal_separator)


def decimal_str(value: Decimal) -> str:
    """Exact text of a Decimal, never in exponent form, without a negative zero."""
    text = format(value, "f")
    return text[1:] if text.startswith("-") and Decimal(text) == 0 else text


def negate(text: str) -> str:
    return decimal_str(-Decimal(text))


def currency_code(value: str | None, what: str = "currency") -> str:
    """Upper-cased three-letter code. Whether ISO 4217 knows it is the validation layer's job."""
    text = (value or "").strip().upper()
    if not _CURRENCY.match(text):
        raise FieldError(f"{what} {value!r} is not a three-letter currency code")
    return text


def parse_date(value: str | None, what: str, fmt: str = "%Y-%m-%d") -> date:
    text = (value or "").strip()
    if not text:
        raise FieldError(f"{what} is empty")
    try:
        return datetime.strptime(text, fmt).date()
    except ValueError:
        raise FieldError(f"bad date {value!r} in {what} (expected {fmt})") from None


def date_prefix(value: str | None, what: str) -> date | None:
    """A 'YYYY-MM-DD' date, optionally followed by a time; empty -> None."""
    text = (value or "").strip()
    if not text:
        return None
    if len(text) > 10 and text[10] not in " T":
        raise FieldError(f"bad date {value!r} in {what} (expected YYYY-MM-DD)")
    return parse_date(text[:10], what)


def parse_naive_instant(value: str | None, what: str, offset: timedelta = timedelta(0)) -> datetime:
    """'YYYY-MM-DD HH:MM:SS' (or 'T', optional seconds) local to a fixed `offset` -> UTC."""
    text = (value or "").strip().replace("T", " ")
    if not text:
        raise FieldError(f"{what} is empty")
    for fmt in ("%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M"):
        try:
            local = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return local.replace(tzinfo=timezone(offset)).astimezone(UTC)
    raise FieldError(f"bad date-time {value!r} in {what} (expected YYYY-MM-DD HH:MM:SS)")


def text_or_none(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None
