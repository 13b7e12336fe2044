"""The inbox sensor: a late file asks for its own partition once; a new version asks again."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import dagster as dg
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.definitions import defs
from billing_pipeline.defs.sensors import GRACE_NS, InboxCursor, InboxFile, inbox_sensor


def _tick(cursor: str | None = None) -> dg.SensorResult:
    return inbox_sensor.evaluate_tick(dg.build_sensor_context(definitions=defs, cursor=cursor))


def _deliver(inbox: Path, relpath: str, data: bytes) -> Path:
    path = inbox / relpath
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_a_late_file_requests_its_own_partition_keyed_by_its_bytes(inbox):
    data = b"date,amount\n2026-10-06,12.00\n"
    _deliver(inbox, "bank/2026-10-06/late_statement.csv", data)

    result = _tick()

    assert [(r.partition_key, r.run_key) for r in result.run_requests] == [
        ("2026-10-06", f"bank/2026-10-06/{_sha(data)}")
    ]
    assert result.run_requests[0].tags["billing/file"] == "bank/2026-10-06/late_statement.csv"


def test_the_cursor_advances_so_the_same_file_is_not_requested_twice(inbox):
    _deliver(inbox, "events/2026-10-05/events.jsonl", b'{"event_id": "e1"}\n')
    first = _tick()
    second = _tick(first.cursor)

    assert len(first.run_requests) == 1
    assert second.run_requests == []
    assert second.skip_message and "no new file" in second.skip_message
    assert json.loads(second.cursor)["watermark_ns"] >= json.loads(first.cursor)["watermark_ns"]


def test_touching_a_file_without_changing_its_bytes_repeats_the_same_run_key(inbox):
    path = _deliver(inbox, "stripe/2026-10-05/payouts.csv", b"id,amount\npo_1,10.00\n")
    first = _tick()
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))
    again = _tick(first.cursor)

    # Dagster launches at most one run per run key: the repeat is deduplicated there.
    assert [r.run_key for r in again.run_requests] == [r.run_key for r in first.run_requests]


def test_a_new_version_of_a_file_requests_a_new_run(inbox):
    path = _deliver(inbox, "adyen/2026-10-07/settlement.csv", b"v1\n")
    first = _tick()
    corrected = b"v2 with a corrected row\n"
    path.write_bytes(corrected)
    later = path.stat().st_mtime_ns + 5_000_000_000
    os.utime(path, ns=(later, later))
    second = _tick(first.cursor)

    assert [r.run_key for r in second.run_requests] == [f"adyen/2026-10-07/{_sha(corrected)}"]
    assert second.run_requests[0].run_key != first.run_requests[0].run_key


def test_files_of_several_sources_and_dates_each_request_their_partition(inbox):
    _deliver(inbox, "bank/2026-10-05/a.sta", b"a")
    _deliver(inbox, "rates/2026-10-08/rates.csv", b"b")
    _deliver(inbox, "bank/2026-10-05/c.xml", b"c")

    result = _tick()

    assert sorted((r.partition_key, r.run_key.split("/")[0]) for r in result.run_requests) == [
        ("2026-10-05", "bank"),
        ("2026-10-05", "bank"),
        ("2026-10-08", "rates"),
    ]


@pytest.mark.parametrize(
    "relpath",
    [
        "bank/2099-01-01/future.csv",  # the business date has not ended: the schedule's job
        "bank/2024-12-31/before_start.csv",  # before the first partition
        "bank/not-a-date/x.csv",
        "unknown_source/2026-10-05/x.csv",
    ],
)
def test_files_outside_the_partitions_request_nothing_but_advance_the_cursor(inbox, relpath):
    _deliver(inbox, relpath, b"x")
    result = _tick()
    assert result.run_requests == []
    if not relpath.startswith("unknown_source"):
        assert relpath in json.loads(result.cursor)["recent"]


def test_an_empty_or_missing_inbox_skips(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_INBOX", str(tmp_path / "nowhere"))
    result = _tick()
    assert result.run_requests == []
    assert result.skip_message


def test_the_cursor_keeps_only_files_within_the_grace_window():
    day = 86_400 * 1_000_000_000
    files = [InboxFile("bank", "2026-10-05", f"bank/2026-10-05/{i}", i * day) for i in range(500)]
    cursor = InboxCursor().advanced(files)
    assert cursor.watermark_ns == 499 * day
    assert [path for path, _ in cursor.recent] == ["bank/2026-10-05/499"]
    assert len(cursor.dump()) < 200


_stamps = st.integers(min_value=0, max_value=GRACE_NS // 2)


@settings(max_examples=60, deadline=None)
@given(
    ticks=st.lists(
        st.lists(st.tuples(st.sampled_from("abcde"), _stamps), max_size=4), min_size=1, max_size=6
    )
)
def test_every_file_version_within_the_grace_window_is_reported_exactly_once(ticks):
    """Arrivals whose stamps jitter by less than the grace window, as on a file share."""
    inbox: dict[str, int] = {}
    cursor = InboxCursor()
    reported: list[tuple[str, int]] = []
    delivered: set[tuple[str, int]] = set()
    base = 0
    for batch in ticks:
        base += GRACE_NS // 4
        for name, jitter in batch:
            inbox[name] = base + jitter
            delivered.add((name, base + jitter))
        files = [InboxFile("bank", "2026-10-05", name, stamp) for name, stamp in inbox.items()]
        reported += [(f.relpath, f.stamp_ns) for f in files if cursor.is_new(f)]
        cursor = InboxCursor.parse(cursor.advanced(files).dump())
    # A version overwritten before any tick saw it was never there to report.
    last_seen = {(name, stamp) for name, stamp in inbox.items()}
    assert len(reported) == len(set(reported))
    assert last_seen <= set(reported) <= delivered
