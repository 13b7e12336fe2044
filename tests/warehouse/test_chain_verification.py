"""The daily chain check verifies what was appended since the last verified link, and no less."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, date, datetime, timedelta

import duckdb
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.warehouse.chain_verification import full_walk_due, verify_chain
from billing_pipeline.warehouse.event_store import GENESIS_HASH, chain_violations, ensure_store

NOW = datetime(2026, 10, 8, 6, 0, tzinfo=UTC)
MONDAY, TUESDAY, WEDNESDAY = date(2026, 10, 5), date(2026, 10, 6), date(2026, 10, 7)


def _store() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    ensure_store(conn)
    return conn


def _append(conn, count: int, salt: str = "") -> None:
    """Append `count` correctly chained events, as the event store does."""
    last = conn.execute("select seq, chain_hash from store.events order by seq desc limit 1")
    last_seq, prev = last.fetchone() or (0, GENESIS_HASH)
    for seq in range(last_seq + 1, last_seq + 1 + count):
        key, payload = f"k{seq}", json.dumps({"n": seq, "amount_minor": 100 + seq, "s": salt})
        payload_hash = hashlib.sha256(payload.encode()).hexdigest()
        link = hashlib.sha256(f"{prev}|{key}|{payload_hash}".encode()).hexdigest()
        conn.execute(
            "insert into store.events values (?, ?, 't', now(), current_date, 'a', null, ?, ?, "
            "?, ?, 's', 'f', null, current_date, now(), 'r')",
            [seq, key, payload, payload_hash, prev, link],
        )
        prev = link


def _tamper(conn, seq: int, how: str) -> None:
    if how == "payload":
        conn.execute("update store.events set payload = payload || ' ' where seq = ?", [seq])
    elif how == "prev":
        conn.execute("update store.events set prev_hash = repeat('f', 64) where seq = ?", [seq])
    elif how == "chain":
        conn.execute("update store.events set chain_hash = repeat('e', 64) where seq = ?", [seq])
    else:
        conn.execute("delete from store.events where seq = ?", [seq])


def _anchor(conn) -> tuple[int, str]:
    return conn.execute(
        "select verified_through_seq, mode from store.chain_verifications "
        "order by verified_through_seq desc limit 1"
    ).fetchone()


def test_an_intact_chain_verifies_day_by_day_and_the_anchor_follows_it():
    conn = _store()
    for day, count in [(MONDAY, 4), (TUESDAY, 3), (WEDNESDAY, 0)]:
        _append(conn, count)
        assert verify_chain(conn, day, "run", NOW) == []
    assert _anchor(conn) == (7, "incremental")
    assert conn.execute("select count(*) from store.chain_verifications").fetchone() == (2,)


@pytest.mark.parametrize("how", ["payload", "prev", "chain", "delete"])
def test_tampering_after_the_anchor_is_caught_and_the_anchor_stays(how):
    conn = _store()
    _append(conn, 5)
    verify_chain(conn, MONDAY, "run", NOW)
    _append(conn, 4)
    _tamper(conn, 7, how)

    broken = verify_chain(conn, TUESDAY, "run", NOW)

    assert broken and broken[0]["seq"] in (7, 8)  # a deleted event shows as a gap at 8
    assert broken == chain_violations(conn)
    assert _anchor(conn) == (5, "full")


def test_an_edit_before_the_anchor_is_found_by_the_full_walk_and_by_a_re_run():
    conn = _store()
    _append(conn, 5)
    verify_chain(conn, MONDAY, "run", NOW)
    _append(conn, 2)
    _tamper(conn, 2, "payload")  # the link is left alone: only re-hashing finds it

    assert verify_chain(conn, TUESDAY, "run", NOW) == []  # the daily check looks at 6..7
    assert [v["seq"] for v in verify_chain(conn, WEDNESDAY, "run", NOW, full=True)] == [2]
    assert [v["seq"] for v in verify_chain(conn, TUESDAY, "rerun", NOW)] == [2]
    assert [v["seq"] for v in verify_chain(conn, MONDAY, "earlier", NOW)] == [2]


@pytest.mark.parametrize("how", ["chain", "delete_before", "delete_anchor", "rehash"])
def test_a_verified_prefix_that_changed_breaks_the_anchor(how):
    conn = _store()
    _append(conn, 5)
    verify_chain(conn, MONDAY, "run", NOW)
    if how == "chain":
        _tamper(conn, 5, "chain")
    elif how == "delete_before":
        _tamper(conn, 3, "delete")
    elif how == "delete_anchor":
        _tamper(conn, 5, "delete")
    else:  # rewrite event 3 and re-hash every link after it: each link agrees again
        conn.execute("delete from store.events where seq >= 3")
        _append(conn, 3, salt="rewritten")
        assert chain_violations(conn) == []
    _append(conn, 1, salt="the next day")

    broken = [v["seq"] for v in verify_chain(conn, TUESDAY, "run", NOW)]

    assert broken.count(5) == 1
    assert _anchor(conn) == (5, "full")


def test_the_full_walk_is_due_a_week_after_the_last_one_by_the_clock_not_the_dates_run():
    """A backfill runs weeks of dates within an hour: it walks the whole chain once, and the
    next full walk comes a week of wall time later, whichever dates run then."""
    conn = _store()
    assert full_walk_due(conn, NOW)  # never walked
    days = [date(2026, 9, 1) + timedelta(days=n) for n in range(21)]  # three Sundays
    for minute, day in enumerate(days):
        _append(conn, 2)
        at = NOW + timedelta(minutes=minute)
        assert verify_chain(conn, day, "backfill", at, full=full_walk_due(conn, at)) == []
    modes = conn.execute("select mode from store.chain_verifications order by 1").fetchall()
    assert modes == [("full",)] + [("incremental",)] * 20
    _tamper(conn, 3, "payload")  # an old event, behind the anchor: only a full walk sees it
    _append(conn, 1)
    week = NOW + timedelta(days=7)
    assert not full_walk_due(conn, week - timedelta(minutes=1))
    assert verify_chain(conn, date(2026, 9, 22), "daily", week - timedelta(minutes=1)) == []
    _append(conn, 1)
    assert full_walk_due(conn, week)
    assert [v["seq"] for v in verify_chain(conn, date(2026, 9, 23), "daily", week, True)] == [3]


def test_a_full_walk_with_nothing_new_is_recorded_and_re_runs_still_walk_in_full():
    conn = _store()
    _append(conn, 3)
    assert verify_chain(conn, WEDNESDAY, "run", NOW, full=full_walk_due(conn, NOW)) == []
    week = NOW + timedelta(days=7)
    assert full_walk_due(conn, week)
    # Nothing stored for a week: the due walk is recorded all the same, not repeated daily.
    assert verify_chain(conn, MONDAY, "earlier", week, full=True) == []
    assert not full_walk_due(conn, week + timedelta(days=1))
    # Wednesday's run verified the same link: Tuesday is still a re-run, audited in full.
    _tamper(conn, 2, "payload")
    broken = verify_chain(conn, TUESDAY, "rerun", week + timedelta(days=1))
    assert [v["seq"] for v in broken] == [2]


@settings(max_examples=30, deadline=None)
@given(
    days=st.lists(st.integers(0, 4), min_size=1, max_size=5),
    tampers=st.lists(
        st.tuples(st.integers(0, 30), st.sampled_from(["payload", "prev", "chain", "delete"])),
        max_size=3,
    ),
)
def test_the_incremental_check_equals_the_full_walk_after_the_anchor(days, tampers):
    conn = _store()
    for offset, count in enumerate(days):
        _append(conn, count)
        assert verify_chain(conn, date(2026, 10, 5 + offset), "run", NOW) == chain_violations(conn)
    anchor = conn.execute("select coalesce(max(seq), 0) from store.events").fetchone()[0]
    _append(conn, 6)
    for seq, how in tampers:
        _tamper(conn, anchor + 1 + seq % 5, how)  # not the last: a cut tail has no witness

    incremental = verify_chain(conn, date(2026, 10, 5 + len(days)), "run", NOW)

    assert incremental == [v for v in chain_violations(conn) if v["seq"] > anchor]
    assert (incremental == []) == (tampers == [])
