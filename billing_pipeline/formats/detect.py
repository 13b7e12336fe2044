"""Choose the parser for a landed file: by source folder, and for bank files by content."""

from __future__ import annotations

import re
from collections.abc import Callable

from billing_pipeline.formats import (
    adyen,
    bai2,
    bank_csv,
    camt053,
    events_jsonl,
    mt940,
    rates_csv,
    stripe,
)
from billing_pipeline.formats.base import ParseResult, UnreadableFile

BANK_PARSERS: dict[str, Callable[[bytes, str], ParseResult]] = {
    "camt053": camt053.parse,
    "mt940": mt940.parse,
    "bai2": bai2.parse,
    "csv": bank_csv.parse,
}
SOURCE_PARSERS: dict[str, Callable[[bytes, str], ParseResult]] = {
    "stripe": stripe.parse,
    "adyen": adyen.parse,
    "events": events_jsonl.parse,
    "rates": rates_csv.parse,
}
_MT940_START = re.compile(rb"^[\s\x01]*(?:\{1:|:20:|:940:)", re.MULTILINE)


def detect_bank_format(content: bytes) -> str:
    """'camt053', 'mt940', 'bai2' or 'csv', from the first bytes of the file."""
    head = content[:4096].lstrip(b"\xef\xbb\xbf\x00\x01\r\n\t ")
    if head.startswith(b"<"):
        return "camt053"  # any XML: the camt parser says clearly if it is not camt.053
    if head.startswith(b"01,"):
        return "bai2"
    if _MT940_START.search(content[:4096]):
        return "mt940"
    return "csv"


def parse_file(source: str, file_name: str, content: bytes) -> ParseResult:
    if source == "bank":
        return BANK_PARSERS[detect_bank_format(content)](content, file_name)
    parser = SOURCE_PARSERS.get(source)
    if parser is None:
        known = ", ".join(["bank", *SOURCE_PARSERS])
        raise UnreadableFile(f"unknown source {source!r}; expected one of {known}")
    return parser(content, file_name)
