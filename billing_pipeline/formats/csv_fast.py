"""Vectorised CSV records, proven to be what `text.csv_records` reads, for the processor files.

A physical line is *regular* when it is a complete record on its own: every field either
quoted (doubled quotes inside, no line break) or unquoted without quotes, and no control
characters. When every line of a file is regular or blank, every line starts a record, so
polars can read them all; otherwise the exact record structure comes from the row reader and
only its single-line regular records are read by polars. Columns are all text, as the csv
module gives them. The vectorised field readers below mirror `fields.py` for the values they
can prove good and say which rows they could not; those go back to the row-by-row code.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import polars as pl

from billing_pipeline.formats.fields_fast import text_or_none
from billing_pipeline.formats.text import (
    CsvRecord,
    has_undecodable,
    line_texts,
    physical_lines,
)

_QUOTED = r'"(?:[^"\x00-\x1f]|"")*"'
_PLAIN = r'[^",\x00-\x1f]*'
_FIELD = f"(?:{_QUOTED}|{_PLAIN})"
LINE = "__line"


@dataclass
class CsvSplit:
    header: CsvRecord
    fast: pl.DataFrame  # column_1..column_N (text) and __line, one row per regular record
    slow: list[CsvRecord]  # every other record, for the row-by-row reader
    lines: list[str]  # the physical lines, for records handed back to the row reader


def split_records(text: str) -> CsvSplit | None:
    """The records of a CSV text, or None when the header itself is not a regular line."""
    if has_undecodable(text):
        return None  # polars holds only valid UTF-8: the row reader takes the whole file
    lines = line_texts(text)
    if not lines or not lines[0].strip():
        return None
    header_fields = next(csv.reader([lines[0]]))
    if not pl.Series([lines[0]]).str.contains(f"^{_FIELD}(?:,{_FIELD})*$")[0]:
        return None
    width = len(header_fields)
    header = CsvRecord(1, header_fields, lines[0])
    data = pl.DataFrame({"text": pl.Series(lines[1:], dtype=pl.Utf8)})
    data = data.with_row_index(LINE, offset=2)
    regular = pl.col("text").str.contains(f"^{_FIELD}" + f",{_FIELD}" * (width - 1) + "$")
    data = data.with_columns(
        regular.alias("regular"), pl.col("text").str.contains(r"^[ \t]*$").alias("blank")
    )
    slow: list[CsvRecord] = []
    if data.select((pl.col("regular") | pl.col("blank")).all()).item():
        fast_lines = data.filter(pl.col("regular"))
    else:
        # A line that is neither starts a record the row reader must read; the record ends
        # at a line end, and from there on lines are records of their own again.
        physical = physical_lines(text)
        odd = data.filter(~pl.col("regular") & ~pl.col("blank"))[LINE].to_list()
        covered = set()
        read_to = 1
        for line_no in odd:
            if line_no <= read_to:
                continue
            record, read_to = _one_record(physical, line_no)
            if record is not None:
                slow.append(record)
            covered.update(range(line_no, read_to + 1))
        fast_lines = data.filter(pl.col("regular") & ~pl.col(LINE).is_in(list(covered)))
    return CsvSplit(header, _read(fast_lines, width), slow, lines)


def _one_record(physical: list[str], line_no: int) -> tuple[CsvRecord | None, int]:
    """The first non-blank record from `line_no` on, exactly as `text.csv_records` reads it
    (a record boundary there), and the last line it used."""
    start = line_no - 1
    reader = csv.reader(iter(physical[start:]), delimiter=",", strict=False)
    previous_end = 0
    while True:
        try:
            fields = next(reader)
        except StopIteration:
            return None, start + max(previous_end, 1)
        except csv.Error as exc:
            first, previous_end = previous_end + 1, reader.line_num
            raw = "".join(physical[start + first - 1 : start + previous_end]).rstrip("\r\n")
            return CsvRecord(start + first, [f"\x00csv error: {exc}"], raw), start + previous_end
        first, previous_end = previous_end + 1, reader.line_num
        raw = "".join(physical[start + first - 1 : start + previous_end]).rstrip("\r\n")
        if raw.strip():
            return CsvRecord(start + first, fields, raw), start + previous_end


def _column_name(position: int) -> str:
    return f"column_{position + 1}"


def header_columns(columns: dict[str, int]) -> tuple[Callable[[str], pl.Expr], ...]:
    """(raw, text) expressions of a header's column by name, over a frame `_read` built: raw
    text as read, and text stripped with blanks as null. A column the header lacks is null."""

    def raw(name: str) -> pl.Expr:
        if name not in columns:
            return pl.lit(None, dtype=pl.Utf8)
        return pl.col(_column_name(columns[name]))

    def text(name: str) -> pl.Expr:
        return text_or_none(raw(name))

    return raw, text


def _read(lines: pl.DataFrame, width: int) -> pl.DataFrame:
    names = [_column_name(i) for i in range(width)]
    if lines.height == 0:
        return pl.DataFrame(schema={**dict.fromkeys(names, pl.Utf8), LINE: pl.Int64})
    body = "\n".join(lines["text"].to_list()).encode()
    frame = pl.read_csv(
        io.BytesIO(body),
        has_header=False,
        new_columns=names,
        infer_schema=False,
        quote_char='"',
        empty_string_is_null=False,
    )
    return frame.with_columns(lines[LINE].cast(pl.Int64).alias(LINE))


def records_of(split: CsvSplit, rows: pl.DataFrame) -> list[CsvRecord]:
    """Rows of the fast frame back as records, for the row reader."""
    names = [f"column_{i + 1}" for i in range(len(split.header.fields))]
    return [
        CsvRecord(row[-1], list(row[:-1]), split.lines[row[-1] - 1])
        for row in rows.select(*names, LINE).iter_rows()
    ]


def in_order(*groups: list[CsvRecord]) -> Iterator[CsvRecord]:
    return iter(sorted((r for group in groups for r in group), key=lambda r: r.line_no))
