"""Billing application event log: JSON Lines, one event object per line (contract: DESIGN.md).

Field types are checked here, business meaning (is the type known, is the transition allowed)
is the ledger's job. `payload` is the whole event as canonical JSON, so the same `event_id`
arriving with different content can be told apart from a harmless replay.
"""

from __future__ import annotations

import io
import json
import re
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from billing_pipeline.domain.money import INT64_MAX
from billing_pipeline.formats import events_fast
from billing_pipeline.formats.base import (
    FRAMES,
    ParseResult,
    Rejected,
    UnreadableFile,
    conform,
    empty_frame,
)
from billing_pipeline.formats.fields import FieldError, parse_date
from billing_pipeline.formats.text import (
    BOM,
    NOT_FAST,
    has_undecodable,
    line_texts,
    printable,
    undecodable_reason,
)

_RFC3339 = re.compile(
    r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$"
)
TEXT_FIELDS = ["payment_id", "invoice_id", "customer_id", "currency", "processor", "processor_ref"]


# Lines are read in batches of this many: the vectorised reader works on a batch at once, and
# a large log never holds all its parsed values as Python objects.
_CHUNK_ROWS = 100_000
# Batches parsed side by side. One batch's parse keeps ~1.2 cores busy (polars releases the
# GIL, but much of its work on 100k lines is single-threaded): on a 1M-payment day's log
# (3.3M lines) parsing took 11.3-12.8 s one batch at a time, 8.9-9.8 s two at a time
# (benchmarks/RESULTS.md, session 43).
PARSE_WORKERS = 2


def parse(content: bytes, file_name: str) -> ParseResult:
    if is_blank(content):
        raise UnreadableFile("empty file")
    parts = list(parse_blocks([content]))
    frames = [p.frames["billing_events"] for p in parts]
    frame = pl.concat(frames, rechunk=True) if frames else empty_frame("billing_events")
    rejected = [r for p in parts for r in p.rejected]
    return ParseResult(frames={"billing_events": frame}, rejected=rejected, notes=[])


def parse_path(
    path: Path, block_bytes: int = 32 << 20, workers: int = PARSE_WORKERS
) -> Iterator[ParseResult]:
    """`parse` of a file read in blocks, one result per batch (`parse_blocks`): memory does not
    grow with the file. Raises UnreadableFile("empty file") at the end if every byte was
    whitespace."""
    blank = True

    def blocks() -> Iterator[bytes]:
        nonlocal blank
        for block in line_blocks(path, block_bytes):
            blank = blank and is_blank(block)
            yield block

    yield from parse_blocks(blocks(), workers)
    if blank:
        raise UnreadableFile("empty file")


def line_blocks(path: Path, block_bytes: int) -> Iterator[bytes]:
    """The file's bytes in blocks of about `block_bytes`, each cut just after a line feed."""
    carry = b""
    with path.open("rb") as handle:
        while chunk := handle.read(block_bytes):
            data = carry + chunk
            end = data.rfind(b"\n") + 1
            carry = data[end:]
            if end:
                yield data[:end]
    if carry:
        yield carry


def is_blank(content: bytes) -> bool:
    """`not content.strip()` without copying the content."""
    return not content or content.isspace()


def parse_blocks(blocks: Iterable[bytes], workers: int = PARSE_WORKERS) -> Iterator[ParseResult]:
    """One result per batch of lines of a log given as consecutive blocks of its bytes, in
    order; up to `workers` batches are parsed at a time, side by side.

    Every block but the last must end with a line feed, so that no line spans two blocks;
    the caller checks for an empty file (a file of whitespace bytes only). An error reading
    the blocks is raised after the results of every batch before it.
    """
    batches = _batches(blocks)
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="parse") as pool:
        parsing: deque[Future[ParseResult]] = deque()
        try:
            while True:
                try:
                    batch = next(batches, None)
                except Exception:  # reading failed: the batches before it come first
                    while parsing:
                        yield parsing.popleft().result()
                    raise
                if batch is None:
                    break
                parsing.append(pool.submit(_parse_batch, *batch))
                if len(parsing) > workers:
                    yield parsing.popleft().result()
            while parsing:
                yield parsing.popleft().result()
        finally:  # a caller that stops early leaves nothing queued behind it, no file open
            for future in parsing:
                future.cancel()
            batches.close()


def _batches(blocks: Iterable[bytes]) -> Iterator[tuple[pl.Series, list[str] | None, int, bool]]:
    """The arguments of `_parse_batch` for each batch of the blocks' lines, numbered."""
    line_no, first = 1, True
    for block in blocks:
        if first and block.startswith(BOM):
            block = block[len(BOM) :]
        first = False
        lines, python_lines, check_bytes = _block_lines(block)
        del block
        for start in range(0, len(lines), _CHUNK_ROWS):
            batch = lines.slice(start, _CHUNK_ROWS)
            python_batch = python_lines[start : start + _CHUNK_ROWS] if python_lines else None
            yield batch, python_batch, line_no + start, check_bytes
        line_no += len(lines)


def _block_lines(block: bytes) -> tuple[pl.Series, list[str] | None, bool]:
    """The lines of a block as polars text, plus (only when polars cannot hold every line or
    the block has carriage returns) the Python lines, and whether undecodable bytes occur."""
    try:
        text = block.decode("utf-8")
    except UnicodeDecodeError:
        text = block.decode("utf-8", errors="surrogateescape")
        python_lines = line_texts(text)
        # Polars holds only valid UTF-8: a line with undecodable bytes goes to the row reader.
        safe = [NOT_FAST if has_undecodable(line) else line for line in python_lines]
        return pl.Series(safe, dtype=pl.Utf8), python_lines, True
    if "\r" in text:
        python_lines = line_texts(text)
        return pl.Series(python_lines, dtype=pl.Utf8), python_lines, False
    # NUL is the separator of the split below, and the CSV reader drops a BOM that opens its
    # input (here a line's, not the file's: the file's is gone): split those in Python.
    if "\x00" in text or text.startswith("\ufeff"):
        return pl.Series(line_texts(text), dtype=pl.Utf8), None, False
    del text
    # Polars' CSV reader with one column, no quoting and NUL as separator splits at line feeds
    # only, keeping blank lines (as nulls) and dropping nothing: splitting a 1M-payment day's
    # log took 3.7 s as one string split and exploded, 1.0 s this way.
    lines = pl.read_csv(
        io.BytesIO(block),
        has_header=False,
        separator="\x00",
        quote_char=None,
        new_columns=["line"],
        schema={"line": pl.Utf8},
    )["line"]
    return lines.fill_null(""), None, False


def _parse_batch(
    lines: pl.Series, python_lines: list[str] | None, first_line_no: int, check_bytes: bool
) -> ParseResult:
    """The vectorised reader takes the lines it can prove good; the rest are read one by one."""
    fast, slow_positions = events_fast.read_lines(lines, first_line_no)
    schema = FRAMES["billing_events"]
    columns: dict[str, list[Any]] = {name: [] for name in schema}
    rejected: list[Rejected] = []
    for position in slow_positions:
        line = python_lines[position] if python_lines is not None else lines[position]
        line_no = first_line_no + position
        if not line.strip():
            continue
        try:
            event = _event(line, check_bytes)
        except FieldError as exc:
            rejected.append(Rejected(line_no, str(exc), printable(line)))
            continue
        event["source_line"] = line_no
        for name, column in columns.items():
            column.append(event[name])
    frame = conform("billing_events", fast)
    if columns["event_id"]:
        slow = conform("billing_events", pl.DataFrame(columns, schema=schema))
        frame = pl.concat([frame, slow]).sort("source_line")
    return ParseResult(frames={"billing_events": frame}, rejected=rejected, notes=[])


def _no_duplicate_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj: dict[str, Any] = {}
    for key, value in pairs:
        if key in obj:
            raise FieldError(f"duplicate key {key!r} in the event object")
        obj[key] = value
    return obj


def _reject_constant(name: str) -> Any:
    raise FieldError(f"{name} is not valid JSON")


# Built once: json.loads/dumps with keyword arguments build a decoder/encoder per call.
_STRICT_DECODER = json.JSONDecoder(
    object_pairs_hook=_no_duplicate_keys, parse_constant=_reject_constant
)
# object_pairs_hook=list keeps the pairs (so repeated keys stay visible) at C speed.
_PAIRS_DECODER = json.JSONDecoder(object_pairs_hook=list, parse_constant=_reject_constant)
_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def _load(line: str, check_bytes: bool = True) -> dict[str, Any]:
    if check_bytes:
        reason = undecodable_reason(line)
        if reason is not None:
            raise FieldError(f"line is {reason}")
    if line.startswith("\ufeff"):
        raise FieldError("invalid JSON: Unexpected UTF-8 BOM (decode using utf-8-sig) at column 1")
    try:
        pairs = _PAIRS_DECODER.decode(line)
        # The common case: a flat object without repeated keys. Anything else (nested values,
        # repeated keys, not an object) takes the strict decoder, which gives the reason.
        if (
            type(pairs) is list
            and pairs
            and type(pairs[0]) is tuple
            and not any(type(value) is list for _, value in pairs)
        ):
            obj = dict(pairs)
            if len(obj) == len(pairs):
                return obj
        obj = _STRICT_DECODER.decode(line)
    except FieldError:
        raise
    except json.JSONDecodeError as exc:
        raise FieldError(f"invalid JSON: {exc.msg} at column {exc.colno}") from None
    except (ValueError, RecursionError) as exc:  # e.g. an integer with thousands of digits
        raise FieldError(f"invalid JSON: {type(exc).__name__}") from None
    if not isinstance(obj, dict):
        raise FieldError(f"not a JSON object but a {type(obj).__name__}")
    return obj


def occurred_at_utc(value: Any) -> datetime:
    if not isinstance(value, str):
        raise FieldError("occurred_at must be an RFC 3339 string")
    match = _RFC3339.match(value.strip())
    if match is None:
        raise FieldError(f"occurred_at {value!r} is not RFC 3339 with a UTC offset")
    day, clock, fraction, offset = match.groups()
    micro = (fraction or "")[:6].ljust(6, "0")  # finer than microseconds cannot be stored
    zone = "+00:00" if offset in {"Z", "z"} else offset
    try:
        instant = datetime.fromisoformat(f"{day}T{clock}.{micro}{zone}")
    except ValueError:
        raise FieldError(f"occurred_at {value!r} is not a valid date-time") from None
    return instant.astimezone(UTC)


def _required_text(obj: dict[str, Any], key: str) -> str:
    value = obj.get(key)
    if not isinstance(value, str) or not value.strip():
        raise FieldError(f"{key} is missing or not a non-empty string")
    return value


def _event(line: str, check_bytes: bool = True) -> dict[str, Any]:
    obj = _load(line, check_bytes)
    event: dict[str, Any] = {
        "event_id": _required_text(obj, "event_id"),
        "type": _required_text(obj, "type"),
        "occurred_at": occurred_at_utc(obj.get("occurred_at")),
    }
    for key in TEXT_FIELDS:
        value = obj.get(key)
        if value is not None and not isinstance(value, str):
            raise FieldError(f"{key} must be a string, got {type(value).__name__}")
        event[key] = value
    amount = obj.get("amount_minor")
    if amount is not None:
        if isinstance(amount, bool) or not isinstance(amount, int):
            raise FieldError(f"amount_minor must be a JSON integer, got {json.dumps(amount)}")
        if abs(amount) > INT64_MAX:
            raise FieldError(f"amount_minor {amount} exceeds 64-bit integers")
    event["amount_minor"] = amount
    due_date = obj.get("due_date")
    if due_date is not None and not isinstance(due_date, str):
        raise FieldError("due_date must be a 'YYYY-MM-DD' string")
    event["due_date"] = parse_date(due_date, "due_date") if due_date else None
    event["payload"] = _CANONICAL.encode(obj)
    return event
