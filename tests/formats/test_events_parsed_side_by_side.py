"""A large log's batches are parsed two at a time, yet arrive, and fail, as if read in order."""

from __future__ import annotations

import json
import threading

import pytest

from billing_pipeline.formats import events_jsonl


def _block(first: int, count: int) -> bytes:
    events = (
        {"event_id": f"evt_{n}", "type": "invoice.created", "occurred_at": "2026-10-05T10:00:00Z",
         "invoice_id": f"in_{n}", "customer_id": "cus_1", "amount_minor": n, "currency": "EUR",
         "due_date": "2026-11-05"}
        for n in range(first, first + count)
    )  # fmt: skip
    return "".join(json.dumps(e) + "\n" for e in events).encode()


def _event_ids(part) -> list[str]:
    return part.frames["billing_events"]["event_id"].to_list()


@pytest.fixture
def batches_of_two(monkeypatch):
    monkeypatch.setattr(events_jsonl, "_CHUNK_ROWS", 2)


def test_two_batches_are_parsed_at_the_same_time(batches_of_two, monkeypatch):
    # Each parse waits for a second one to start: parsed one at a time, the barrier breaks.
    both_running = threading.Barrier(2, timeout=10)
    parse = events_jsonl._parse_batch

    def parse_beside_another(*batch):
        both_running.wait()
        return parse(*batch)

    monkeypatch.setattr(events_jsonl, "_parse_batch", parse_beside_another)

    parts = list(events_jsonl.parse_blocks([_block(0, 4)], workers=2))

    assert [_event_ids(p) for p in parts] == [["evt_0", "evt_1"], ["evt_2", "evt_3"]]


def test_a_failed_read_of_the_file_comes_after_every_batch_before_it(batches_of_two):
    def blocks():
        yield _block(0, 3)
        yield _block(3, 3)
        raise OSError("disk went away")

    parts = events_jsonl.parse_blocks(blocks(), workers=2)
    received = []
    with pytest.raises(OSError, match="disk went away"):
        for part in parts:
            received.extend(_event_ids(part))

    assert received == [f"evt_{n}" for n in range(6)]


def test_a_failed_batch_is_raised_in_its_place_and_nothing_after_it_arrives(
    batches_of_two, monkeypatch
):
    parse = events_jsonl._parse_batch

    def fails_on_the_third_batch(lines, python_lines, first_line_no, check_bytes):
        if first_line_no == 5:
            raise RuntimeError("parser bug")
        return parse(lines, python_lines, first_line_no, check_bytes)

    monkeypatch.setattr(events_jsonl, "_parse_batch", fails_on_the_third_batch)
    received = []
    with pytest.raises(RuntimeError, match="parser bug"):
        for part in events_jsonl.parse_blocks([_block(0, 10)], workers=2):
            received.extend(_event_ids(part))

    assert received == ["evt_0", "evt_1", "evt_2", "evt_3"]


def test_a_reader_that_stops_early_leaves_no_parser_thread_behind(batches_of_two):
    before = {t.ident for t in threading.enumerate()}
    parts = events_jsonl.parse_blocks([_block(0, 40)], workers=2)

    assert _event_ids(next(parts)) == ["evt_0", "evt_1"]
    parts.close()

    assert [t.name for t in threading.enumerate() if t.ident not in before] == []
