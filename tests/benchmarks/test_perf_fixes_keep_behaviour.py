"""The performance fixes change nothing observable: chunked event parsing, set-based chain check."""

from __future__ import annotations

import hashlib
import json

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.formats import events_jsonl
from billing_pipeline.warehouse import event_store
from billing_pipeline.warehouse.event_store import GENESIS_HASH, chain_violations, ensure_store

_EVENT = {
    "event_id": "evt_1", "type": "payment.created", "occurred_at": "2026-10-05T10:00:00+02:00",
    "payment_id": "pay_1", "amount_minor": 100, "currency": "EUR",
}  # fmt: skip


def _lines(kinds: list[int]) -> bytes:
    """A log mixing good events, blank lines, bad JSON, nested values and repeated keys."""
    out = []
    for i, kind in enumerate(kinds):
        event = {**_EVENT, "event_id": f"evt_{i}", "amount_minor": i}
        if kind == 0:
            out.append(json.dumps(event))
        elif kind == 1:
            out.append("")
        elif kind == 2:
            out.append(json.dumps(event)[:-3])  # truncated
        elif kind == 3:
            out.append(json.dumps({**event, "meta": {"b": 1, "a": [1, 2]}}))
        else:
            out.append(json.dumps(event)[:-1] + ', "currency": "USD"}')  # repeated key
    return ("\n".join(out) + "\n").encode()


@settings(max_examples=25, deadline=None)
@given(st.lists(st.integers(0, 4), min_size=1, max_size=30))
def test_parsing_in_chunks_gives_the_same_frame_and_rejections(kinds):
    content = _lines(kinds)
    if not content.strip():
        return
    whole = events_jsonl.parse(content, "events.jsonl")
    original = events_jsonl._CHUNK_ROWS
    events_jsonl._CHUNK_ROWS = 2
    try:
        chunked = events_jsonl.parse(content, "events.jsonl")
    finally:
        events_jsonl._CHUNK_ROWS = original
    assert chunked.frames["billing_events"].equals(whole.frames["billing_events"])
    assert chunked.rejected == whole.rejected
    assert whole.frames["billing_events"].height + len(whole.rejected) == sum(
        1 for k in kinds if k != 1
    )


def test_repeated_key_and_nested_payload_keep_their_reasons_and_canonical_form():
    result = events_jsonl.parse(_lines([4, 3]), "events.jsonl")
    assert [r.line_no for r in result.rejected] == [1]
    assert "duplicate key 'currency'" in result.rejected[0].reason
    payload = result.frames["billing_events"]["payload"][0]
    assert payload.startswith('{"amount_minor":1,') and '"meta":{"a":[1,2],"b":1}' in payload


def _reference_violations(rows):
    """The original sequential walk of the chain, kept here as the oracle."""
    problems, prev, expected_seq = [], GENESIS_HASH, 1
    for seq, key, payload, payload_hash, stored_prev, stored_chain in rows:
        actual = hashlib.sha256(payload.encode()).hexdigest()
        link = hashlib.sha256(f"{prev}|{key}|{actual}".encode()).hexdigest()
        if (seq, actual, stored_prev, stored_chain) != (expected_seq, payload_hash, prev, link):
            problems.append({"seq": seq, "idempotency_key": key})
        prev, expected_seq = stored_chain, seq + 1
    return problems[:20]


@pytest.mark.parametrize("span", [None, 1, 2, 3])
@pytest.mark.parametrize("tamper", ["none", "payload", "prev", "gap", "far", "chain"])
def test_set_based_chain_check_finds_what_the_sequential_walk_finds(tamper, span, monkeypatch):
    # The check runs span by span (`CHECK_SPAN`); a span of 1, 2 or 3 puts a boundary
    # between every pair of links, and beside each tampered one.
    if span is not None:
        monkeypatch.setattr(event_store, "CHECK_SPAN", span)
    conn = duckdb.connect()
    ensure_store(conn)
    prev, rows = GENESIS_HASH, []
    for seq in range(1, 8):
        key, payload = f"k{seq}", json.dumps({"n": seq, "é": "ü"})
        payload_hash = hashlib.sha256(payload.encode()).hexdigest()
        link = hashlib.sha256(f"{prev}|{key}|{payload_hash}".encode()).hexdigest()
        rows.append([seq, key, payload, payload_hash, prev, link])
        prev = link
    if tamper == "payload":
        rows[3][2] = rows[3][2].replace("4", "5")
    elif tamper == "prev":
        rows[2][4] = "f" * 64
    elif tamper == "gap":
        for row in rows[4:]:
            row[0] += 1
    elif tamper == "far":  # a gap far wider than a span: the check jumps it
        for row in rows[4:]:
            row[0] += 10**12
    elif tamper == "chain":
        rows[5][5] = "0" * 64
    for seq, key, payload, payload_hash, prev_hash, link in rows:
        conn.execute(
            "insert into store.events values (?, ?, 't', now(), current_date, 'a', null, ?, ?, "
            "?, ?, 's', 'f', null, current_date, now(), 'r')",
            [seq, key, payload, payload_hash, prev_hash, link],
        )
    expected = _reference_violations(rows)
    assert chain_violations(conn) == expected
    assert (expected == []) == (tamper == "none")


@pytest.mark.parametrize("span", [None, 1, 2])
def test_checking_since_a_verified_event_finds_later_tampering_only(span, monkeypatch):
    if span is not None:
        monkeypatch.setattr(event_store, "CHECK_SPAN", span)
    conn = duckdb.connect()
    ensure_store(conn)
    prev = GENESIS_HASH
    for seq in range(1, 6):
        key, payload = f"k{seq}", f'{{"n":{seq}}}'
        payload_hash = hashlib.sha256(payload.encode()).hexdigest()
        link = hashlib.sha256(f"{prev}|{key}|{payload_hash}".encode()).hexdigest()
        conn.execute(
            "insert into store.events values (?, ?, 't', now(), current_date, 'a', null, ?, ?, "
            "?, ?, 's', 'f', null, current_date, now(), 'r')",
            [seq, key, payload, payload_hash, prev, link],
        )
        prev = link
    conn.execute("update store.events set payload = '{\"n\":0}' where seq in (2, 4)")
    assert [v["seq"] for v in chain_violations(conn)] == [2, 4]
    assert [v["seq"] for v in chain_violations(conn, since_seq=3)] == [4]
    assert chain_violations(conn, since_seq=4) == []
