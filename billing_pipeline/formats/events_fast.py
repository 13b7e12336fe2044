"""Vectorised reading of the ordinary event-log line, proven equal to the row-by-row reader.

A line takes this path only when it is a flat JSON object whose keys are plain identifiers,
whose strings hold no escapes or control characters and whose numbers are small integers in
canonical form, and whose fields pass every check of `events_jsonl._event`. For such a line
the canonical payload is the sorted key/token pairs joined, byte for byte what the JSON
encoder writes. Any other line (and every line of a shape seen too rarely to be worth a
regex) is handed back by position to the row-by-row reader, which gives its reason.
"""

from __future__ import annotations

import re

import polars as pl

from billing_pipeline.formats.base import FRAMES

# Insignificant whitespace next to structure (never inside a string, never inside a token).
_STRUCTURE_SPACE = r'("[^"\\]*")|[ \t]*([{}:,])[ \t]*'
_VALUE = r':(?:"[^"]*"|[^,}"]*)'  # a value after its colon, for the line's key signature
_KEY = re.compile(r'"([A-Za-z0-9_]+)":')
_TOKEN = r'("[^"\\\x00-\x1f]*"|-?[1-9][0-9]{0,17}|0|null|true|false)'
# Lines of one key signature share a regex; a signature seen fewer times than this, or beyond
# this many signatures, is left to the row reader (a garbage line must not compile a regex).
_MIN_LINES_PER_SHAPE = 8
_MAX_SHAPES = 64
_SAMPLE_LINES = 2_000
# What `str.strip()` removes: a value made only of these is blank for the row reader.
_PY_SPACE = "\t\n\x0b\x0c\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_INSTANT = (
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt ]([0-9]{2}):([0-9]{2}):([0-9]{2})(?:\.([0-9]+))?"
    r"(?:([Zz])|([+-])([0-9]{2}):([0-9]{2}))$"
)
_REQUIRED = ("event_id", "type", "occurred_at")
_TEXT_FIELDS = ["payment_id", "invoice_id", "customer_id", "currency", "processor", "processor_ref"]
_ROW = "__row"


def read_lines(lines: pl.Series, first_line_no: int) -> tuple[pl.DataFrame, list[int]]:
    """(canonical frame of the lines proven good, positions of the others that are not blank)."""
    frame = pl.DataFrame({"line": lines}).with_row_index(_ROW)
    frame = frame.filter(~pl.col("line").str.contains(r"^[ \t]*$"))
    # Only lines with whitespace beside structure pay for the (slow) regex replacement.
    spaced = pl.col("line").str.contains(r"^[ \t]|[ \t]$|[{}:,][ \t]|[ \t][{}:,]")
    frame = pl.concat(
        [
            frame.filter(~spaced),
            frame.filter(spaced).with_columns(
                pl.col("line").str.replace_all(_STRUCTURE_SPACE, "${1}${2}").str.strip_chars(" \t")
            ),
        ]
    )
    goods: list[pl.DataFrame] = []
    rest, tried = frame, 0
    # Shapes are learnt from a sample first, then from whatever no learnt shape matched.
    for sample in (frame.head(_SAMPLE_LINES), None):
        source = rest if sample is None else sample
        shapes = source.select(pl.col("line").str.replace_all(_VALUE, ":"))["line"]
        for shape, count in shapes.value_counts(sort=True).iter_rows():
            keys = _shape_keys(shape)
            if keys is None or (sample is None and count < _MIN_LINES_PER_SHAPE):
                continue
            if tried == _MAX_SHAPES or rest.height == 0:
                break
            tried += 1
            good, rest = _read_shape(rest, keys, first_line_no)
            goods.append(good)
    schema = {_ROW: pl.UInt32, **FRAMES["billing_events"]}
    good = pl.concat(goods) if goods else pl.DataFrame(schema=schema)
    slow = frame.select(_ROW).join(good.select(_ROW), on=_ROW, how="anti")
    return good.sort(_ROW).drop(_ROW), sorted(slow[_ROW].to_list())


def _shape_keys(shape: str | None) -> list[str] | None:
    """The keys of a well-formed signature `{"a":,"b":}` if unique and enough for an event."""
    if shape is None:
        return None
    keys = _KEY.findall(shape)
    if shape != "{" + ",".join(f'"{k}":' for k in keys) + "}" or len(set(keys)) != len(keys):
        return None
    if not set(_REQUIRED) <= set(keys):
        return None
    return keys


def _is_string(token: pl.Expr) -> pl.Expr:
    return token.str.starts_with('"')


def _content(token: pl.Expr) -> pl.Expr:
    return token.str.strip_prefix('"').str.strip_suffix('"')


def _read_shape(
    lines: pl.DataFrame, keys: list[str], first_line_no: int
) -> tuple[pl.DataFrame, pl.DataFrame]:
    """(the lines of this shape that are proven good, read; the lines not of this shape)."""
    pattern = r"^\{" + ",".join(f'"{k}":{_TOKEN}' for k in keys) + r"\}$"
    tokens = lines.with_columns(pl.col("line").str.extract_groups(pattern).alias("t"))
    matched = pl.col("t").struct.field("1").is_not_null()  # the line matched the grammar
    rest = tokens.filter(~matched).drop("t")
    tokens = tokens.filter(matched).select(_ROW, "t").unnest("t")
    tokens = tokens.rename({str(i + 1): key for i, key in enumerate(keys)})

    def token(key: str) -> pl.Expr:
        return pl.col(key) if key in keys else pl.lit(None, dtype=pl.Utf8)

    ok = [_is_string(token(k)) & _content(token(k)).str.contains(f"[^{_PY_SPACE}]") for k in
          ("event_id", "type")]  # fmt: skip
    ok.append(_is_string(token("occurred_at")))
    columns = [
        pl.col(_ROW),
        _content(token("event_id")).alias("event_id"),
        _content(token("type")).alias("type"),
    ]
    for key in _TEXT_FIELDS:
        value = token(key)
        ok.append(value.is_null() | (value == "null") | _is_string(value))
        columns.append(pl.when(_is_string(value)).then(_content(value)).alias(key))
    amount = token("amount_minor")
    ok.append(amount.is_null() | (amount == "null") | amount.str.contains("^-?[0-9]+$"))
    columns.append(
        pl.when(amount != "null").then(amount.cast(pl.Int64, strict=False)).alias("amount_minor")
    )
    due = token("due_date")
    due_text = pl.when(_is_string(due) & (due != '""')).then(_content(due))
    due_date = due_text.str.to_date("%Y-%m-%d", strict=False)
    ok.append(due.is_null() | (due == "null") | (due == '""') | _exact_date(due_text, due_date))
    columns.append(due_date.alias("due_date"))
    tokens = _with_instant(tokens, _content(token("occurred_at")))
    ok.append(pl.col("__at_ok"))
    columns.append(pl.col("__at").alias("occurred_at"))
    pairs: list[pl.Expr] = []
    for position, key in enumerate(sorted(keys)):
        pairs += [pl.lit(("{" if position == 0 else ",") + f'"{key}":'), pl.col(key)]
    columns.append(pl.concat_str([*pairs, pl.lit("}")]).alias("payload"))
    columns.append((pl.col(_ROW).cast(pl.Int64) + first_line_no).alias("source_line"))
    read = tokens.lazy().select(*columns, pl.all_horizontal(ok).fill_null(False).alias("__ok"))
    read = read.filter(pl.col("__ok")).select(
        pl.col(_ROW), *[pl.col(c).cast(t) for c, t in FRAMES["billing_events"].items()]
    )
    return read.collect(), rest


def _exact_date(text: pl.Expr, parsed: pl.Expr) -> pl.Expr:
    """A strict YYYY-MM-DD that names a real day (years 1000-9999, so formatting is exact)."""
    return text.str.contains(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$") & _same_day(text, parsed, 9999)


def _same_day(text: pl.Expr, parsed: pl.Expr, last_year: int) -> pl.Expr:
    """The parsed date has exactly the digits of its 'YYYY-MM-DD' text (no lenient reading)."""
    year = text.str.slice(0, 4).cast(pl.Int32, strict=False)
    return (
        (parsed.dt.year() == year)
        & (parsed.dt.month() == text.str.slice(5, 2).cast(pl.Int8, strict=False))
        & (parsed.dt.day() == text.str.slice(8, 2).cast(pl.Int8, strict=False))
        & year.is_between(1000, last_year)
    )


def _with_instant(frame: pl.DataFrame, text: pl.Expr) -> pl.DataFrame:
    """Adds `__at` (RFC 3339 with offset -> UTC instant, microseconds) and `__at_ok` (it is
    surely valid). Years stay within 1000-9000 so that the UTC shift can never leave the
    calendar (the row reader raises for that, and the row reader must be the one to raise it).
    """
    frame = frame.with_columns(text.alias("__at_text"))
    at = pl.col("__at_text")
    zone_chars = pl.when(at.str.ends_with("Z") | at.str.ends_with("z")).then(1).otherwise(6)
    # The grammar fixes every position but the fraction's length.
    frame = frame.with_columns(
        at.str.contains(_INSTANT).fill_null(False).alias("__at_form"),
        at.str.slice(0, 10).alias("__day_text"),
        at.str.slice(19, at.str.len_chars() - 19 - zone_chars).str.strip_prefix(".")
        .str.slice(0, 6).str.pad_end(6, "0").alias("__micro"),
        at.str.tail(zone_chars).alias("__zone"),
    )  # fmt: skip

    def number(start: int, length: int, column: str = "__at_text") -> pl.Expr:
        return pl.col(column).str.slice(start, length).cast(pl.Int64, strict=False)

    day = pl.col("__day_text").str.to_date("%Y-%m-%d", strict=False)
    hour, minute, second = number(11, 2), number(14, 2), number(17, 2)
    zone = pl.col("__zone")
    off_h, off_m = number(1, 2, "__zone").fill_null(0), number(4, 2, "__zone").fill_null(0)
    sign = pl.when(zone.str.starts_with("-")).then(-1).otherwise(1)
    local = day.cast(pl.Datetime("us")) + pl.duration(
        hours=hour, minutes=minute, seconds=second, microseconds=pl.col("__micro").cast(pl.Int64)
    )
    instant = (local - pl.duration(hours=off_h, minutes=off_m) * sign).dt.replace_time_zone("UTC")
    valid = (
        pl.col("__at_form")
        & _same_day(pl.col("__day_text"), day, 9000)
        & hour.is_between(0, 23)
        & minute.is_between(0, 59)
        & second.is_between(0, 59)
        & off_h.is_between(0, 23)
        & off_m.is_between(0, 59)
    )
    frame = frame.with_columns(
        pl.when(pl.col("__at_form")).then(instant).alias("__at"),
        valid.fill_null(False).alias("__at_ok"),
    )
    return frame.drop("__at_text", "__at_form", "__day_text", "__micro", "__zone")
