"""The vectorised event reader gives exactly what the row-by-row reader gives, line for line."""

from __future__ import annotations

import json
from typing import Any

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.formats import events_jsonl
from billing_pipeline.formats.base import FRAMES, UnreadableFile, conform
from billing_pipeline.formats.fields import FieldError
from billing_pipeline.formats.text import decode_utf8, line_texts, printable, undecodable_reason

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))


def row_by_row(content: bytes) -> tuple[pl.DataFrame, list[tuple[int, str, str]]]:
    """The reader as it was before the fast path: every line through `_event` (the oracle)."""
    if not content.strip():
        raise UnreadableFile("empty file")
    text = decode_utf8(content)
    check_bytes = undecodable_reason(text) is not None
    rows: list[dict[str, Any]] = []
    rejected = []
    for line_no, line in enumerate(line_texts(text), start=1):
        if not line.strip():
            continue
        try:
            event = events_jsonl._event(line, check_bytes)
        except FieldError as exc:
            rejected.append((line_no, str(exc), printable(line)))
            continue
        rows.append({**event, "source_line": line_no})
    schema = FRAMES["billing_events"]
    frame = pl.DataFrame({c: [r[c] for r in rows] for c in schema}, schema=schema)
    return conform("billing_events", frame), rejected


def outcome(parse, content: bytes):
    try:
        return "ok", parse(content)
    except Exception as exc:  # both readers must fail the same way, with the same words
        return "raised", (type(exc).__name__, str(exc))


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=6)
INSTANTS = st.one_of(
    st.sampled_from(
        [
            "2026-10-05T10:00:00Z",
            "2026-10-05t10:00:00.5+02:00",
            "2026-10-05 23:59:59.1234567z",
            "2026-02-29T00:00:00Z",
            "2024-02-29T00:00:00-05:30",
            "2026-10-05T24:00:00Z",
            "2026-10-05T10:60:00Z",
            "2026-10-05T10:00:60Z",
            "2026-10-05T10:00:00+24:00",
            "2026-10-05T10:00:00+05:60",
            "0001-01-01T00:00:00+01:00",
            "9999-12-31T23:00:00-02:00",
            " 2026-10-05T10:00:00Z",
            "2026-10-05T10:00:00",
            "2026-1-05T10:00:00Z",
            "",
            "2026-10-05T10:00:00.000000001-00:00",
            "1999-12-31T23:59:59+23:59",
        ]
    ),
    TEXT,
)
DATES = st.sampled_from(["2026-11-04", "2026-02-30", "", " 2026-11-04", "2026-1-4", "0999-01-01"])
VALUES = st.one_of(
    st.none(), st.booleans(), TEXT, st.integers(-(2**64), 2**64), st.floats(allow_nan=False),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.sampled_from("ab"), st.integers()),
)  # fmt: skip


GOOD_INSTANTS = st.sampled_from(
    ["2026-10-05T10:00:00Z", "2026-10-05T23:30:00.25+05:30", "2024-02-29T00:00:00-08:00"]
)
PLAIN = st.sampled_from(["EUR", "pay_1", "a b", "é€", "", " x ", "stripe", "bank_transfer"])


@st.composite
def ordinary_event_line(draw) -> str:
    """An event the fast path should take (or nearly: spacing, \\u escapes, big numbers)."""
    event: dict[str, Any] = {
        "event_id": f"evt_{draw(st.integers(0, 99))}",
        "type": draw(st.sampled_from(["payment.created", "invoice.sent"])),
        "occurred_at": draw(GOOD_INSTANTS),
    }
    for key in events_jsonl.TEXT_FIELDS:
        if draw(st.booleans()):
            event[key] = draw(st.one_of(PLAIN, st.none()))
    if draw(st.booleans()):
        event["amount_minor"] = draw(st.one_of(st.integers(-(10**18), 10**18), st.none()))
    if draw(st.booleans()):
        event["due_date"] = draw(st.sampled_from(["2026-11-04", "", None, "2026-02-30"]))
    if draw(st.booleans()):
        event["Zeta_9"] = draw(st.one_of(st.none(), st.booleans(), PLAIN, st.integers(0, 9)))
    keys = draw(st.permutations(list(event)))
    separators = draw(st.sampled_from([(",", ":"), (", ", ": "), (" ,", ":\t")]))
    return json.dumps({key: event[key] for key in keys}, separators=separators, ensure_ascii=False)


@st.composite
def event_line(draw) -> str:
    """Events with a fair chance of a tricky field each."""
    event: dict[str, Any] = {
        "event_id": draw(st.one_of(st.just("evt_1"), st.just("évt 2"), TEXT, st.integers(0, 3))),
        "type": draw(st.sampled_from(["payment.created", "invoice.sent", " ", "\u3000"])),
        "occurred_at": draw(st.one_of(GOOD_INSTANTS, GOOD_INSTANTS, INSTANTS)),
    }
    for key in events_jsonl.TEXT_FIELDS:
        if draw(st.booleans()):
            event[key] = draw(st.one_of(PLAIN, PLAIN, st.none(), TEXT, st.integers(0, 9)))
    if draw(st.booleans()):
        event["amount_minor"] = draw(
            st.one_of(st.integers(-(10**6), 10**6), st.integers(-(2**64), 2**64), VALUES)
        )
    if draw(st.booleans()):
        event["due_date"] = draw(st.one_of(DATES, st.just("2026-11-04"), st.none(), VALUES))
    if draw(st.booleans()):
        key = draw(st.sampled_from(["extra", "Zeta_9", "a b", "é", "x\\y", ""]))
        event[key] = draw(st.one_of(st.none(), st.booleans(), PLAIN, st.integers(), VALUES))
    keys = draw(st.permutations(list(event)))
    event = {key: event[key] for key in keys}
    style = draw(
        st.sampled_from(["compact", "compact", "spaced", "ascii", "repeat", "minus0", "tab"])
    )
    if style == "compact":
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False)
    if style == "spaced":
        return json.dumps(event, ensure_ascii=False)
    if style == "ascii":
        return json.dumps(event)
    if style == "repeat":
        return json.dumps(event)[:-1] + ', "event_id": "evt_2"}'
    if style == "minus0":
        return json.dumps(event)[:-1] + ', "n": -0}'
    return " \t" + json.dumps(event, separators=(" ,", ":\t"), ensure_ascii=False) + "\t"


LINES = st.one_of(
    event_line(),
    ordinary_event_line(),
    ordinary_event_line(),
    st.sampled_from(["", "  ", "\x0b", "\x1c", "[]", "{}", "{", "null", '"x"', "\ufeff{}"]),
)


@SETTINGS
@given(
    st.lists(LINES, max_size=40),
    st.sampled_from(["\n", "\r\n", "\r"]),
    st.sampled_from([b"", b"\xef\xbb\xbf"]),
    st.sampled_from([None, b"\xff", b"\xed\xa0\x80"]),
)
def test_fast_reader_equals_row_by_row_reader(lines, newline, bom, bad_bytes):
    content = bom + newline.join(lines).encode()
    if bad_bytes is not None and lines:
        content += b"\n" + bad_bytes + lines[0].encode()
    old = outcome(row_by_row, content)
    new = outcome(lambda c: events_jsonl.parse(c, "events.jsonl"), content)
    assert old[0] == new[0]
    if old[0] == "raised":
        assert old[1] == new[1]
        return
    old_frame, old_rejected = old[1]
    assert new[1].frames["billing_events"].equals(old_frame)
    assert [(r.line_no, r.reason, r.raw_record) for r in new[1].rejected] == old_rejected


@SETTINGS
@given(st.lists(LINES, min_size=1, max_size=30), st.integers(1, 7), st.integers(1, 3))
def test_batches_blocks_and_parsers_side_by_side_do_not_change_the_result(lines, batch, workers):
    """Reading in batches of lines, in blocks of bytes cut after a line feed, and with several
    batches parsed at a time, is reading."""
    content = "\n".join(lines).encode() + b"\n"
    whole = outcome(lambda c: events_jsonl.parse(c, "events.jsonl"), content)
    if whole[0] == "raised":
        return
    cut = content.index(b"\n", len(content) // 2) + 1
    original = events_jsonl._CHUNK_ROWS
    events_jsonl._CHUNK_ROWS = batch
    try:
        parts = list(events_jsonl.parse_blocks([content[:cut], content[cut:]], workers=workers))
    finally:
        events_jsonl._CHUNK_ROWS = original
    frame = pl.concat([p.frames["billing_events"] for p in parts])
    assert frame.equals(whole[1].frames["billing_events"])
    assert [r for p in parts for r in p.rejected] == whole[1].rejected


def test_ordinary_lines_take_the_fast_path_and_keep_their_canonical_payload():
    event = {
        "type": "payment.created", "event_id": "evt_é", "occurred_at": "2026-10-05T10:00:00+02:00",
        "amount_minor": 12, "due_date": "2026-11-04", "zeta": None, "alpha": True,
    }  # fmt: skip
    lines = [json.dumps(event), json.dumps(event, separators=(",", ":"), ensure_ascii=False)]
    frame, slow = events_jsonl.events_fast.read_lines(pl.Series(lines), 1)
    assert slow == [0]  # the \\u escape of the first line is the row reader's business
    assert frame["payload"].to_list() == [
        '{"alpha":true,"amount_minor":12,"due_date":"2026-11-04","event_id":"evt_é",'
        '"occurred_at":"2026-10-05T10:00:00+02:00","type":"payment.created","zeta":null}'
    ]
    assert str(frame["occurred_at"][0]) == "2026-10-05 08:00:00+00:00"
