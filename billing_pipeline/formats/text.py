"""Bytes to text and CSV records with their physical line numbers, shared by the text parsers."""

from __future__ import annotations

import csv
import re
from collections.abc import Iterator
from dataclasses import dataclass

from billing_pipeline.formats.base import UnreadableFile

_UNDECODED_BYTE = re.compile("[\udc80-\udcff]")
BOM = b"\xef\xbb\xbf"


def decode_utf8(content: bytes) -> str:
    """UTF-8 text without its BOM. Undecodable bytes survive as lone surrogates so that only
    the records holding them are rejected (see `undecodable_reason`), not the whole file."""
    if content.startswith(BOM):
        content = content[len(BOM) :]
    return content.decode("utf-8", errors="surrogateescape")


def undecodable_reason(text: str) -> str | None:
    match = _UNDECODED_BYTE.search(text)
    if match is None:
        return None
    byte = ord(match.group()) - 0xDC00
    return f"not valid UTF-8 (byte 0x{byte:02X}); the file must be UTF-8"


def has_undecodable(text: str) -> bool:
    # isascii() is a flag lookup: plain ASCII text (the usual file) needs no scan at all.
    return not text.isascii() and _UNDECODED_BYTE.search(text) is not None


# Stands in, for a vectorised reader, for a record polars cannot hold (undecodable bytes): it
# matches no fast-path grammar, so the record goes to the row-by-row reader.
NOT_FAST = "\x00"


def printable(text: str) -> str:
    """The record as text again, with undecodable bytes shown as \\xNN."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


_PHYSICAL_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")


def physical_lines(text: str) -> list[str]:
    """Lines with their endings; unlike str.splitlines, only CR, LF and CRLF end a line."""
    return _PHYSICAL_LINE.findall(text)


def line_texts(text: str) -> list[str]:
    """`physical_lines` without their endings; a plain split when the text has no CR at all."""
    if "\r" not in text:
        lines = text.split("\n")
        if lines and not lines[-1]:
            lines.pop()
        return lines
    return [line.rstrip("\r\n") for line in physical_lines(text)]


@dataclass(frozen=True, slots=True)
class CsvRecord:
    line_no: int  # 1-based physical line where the record starts
    fields: list[str]
    raw: str  # the physical lines of the record, without the final line break


def csv_records(text: str, delimiter: str = ",") -> Iterator[CsvRecord]:
    """Every non-blank CSV record of `text` with the line it starts on.

    A quoted field may span lines; `raw` then holds all of them. Whitespace-only lines are not
    records.
    """
    lines = physical_lines(text)
    # csv needs '\n' endings it can see; feed it the physical lines one by one so line_num counts
    # physical lines whatever the line-ending style.
    reader = csv.reader(iter(lines), delimiter=delimiter, strict=False)
    previous_end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            start, previous_end = previous_end + 1, reader.line_num
            raw = "".join(lines[start - 1 : previous_end]).rstrip("\r\n")
            yield CsvRecord(start, [f"\x00csv error: {exc}"], raw)
            continue
        start, previous_end = previous_end + 1, reader.line_num
        raw = "".join(lines[start - 1 : previous_end]).rstrip("\r\n")
        if not raw.strip():
            continue
        yield CsvRecord(start, fields, raw)


def csv_error(record: CsvRecord) -> str | None:
    if len(record.fields) == 1 and record.fields[0].startswith("\x00csv error: "):
        return record.fields[0][1:]
    return None


def read_header(records: Iterator[CsvRecord], what: str) -> tuple[CsvRecord, dict[str, int]]:
    """The first record as a header: column name -> index (names stripped)."""
    header = next(records, None)
    if header is None:
        raise UnreadableFile(f"empty file: no header line for {what}")
    names = [name.strip() for name in header.fields]
    reason = undecodable_reason(header.raw)
    if reason is not None:
        raise UnreadableFile(f"header line {reason}")
    index: dict[str, int] = {}
    for position, name in enumerate(names):
        index.setdefault(name, position)
    return header, index


def require_columns(index: dict[str, int], required: list[str], what: str) -> None:
    missing = [c for c in required if c not in index]
    if missing:
        raise UnreadableFile(f"not a {what}: header lacks column(s) {', '.join(missing)}")


def field_count_reason(record: CsvRecord, expected: int) -> str | None:
    """Why a data record cannot be read at all (CSV error, bad bytes, wrong field count)."""
    error = csv_error(record)
    if error is not None:
        return error
    reason = undecodable_reason(record.raw)
    if reason is not None:
        return reason
    if len(record.fields) != expected:
        return f"expected {expected} fields as in the header, got {len(record.fields)}"
    return None
