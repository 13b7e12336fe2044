"""The daily hash-chain check: the links appended since the last verified event, or everything.

Walking the whole chain costs O(history) every day. Once a prefix of the chain has been
verified, its last link (seq and chain hash) is recorded in `store.chain_verifications`, in
the warehouse itself, so the next check only has to verify the events after it against that
anchor: O(new events). The anchor is checked too: if the event it names is gone or its chain
hash is no longer the recorded one, or events up to it were deleted, the prefix was changed
after it was verified, and the check walks the whole chain and reports the anchor.

A full walk still runs when no anchor exists, when the anchor does not hold, when asked for
(`full=True`: weekly, `full_walk_due`; only a full walk finds an edit of an old event whose
link was left alone) and when a date is run again that was already verified (a re-run or an
earlier day: someone is looking at the past, so the past is audited again).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

import duckdb

from billing_pipeline.warehouse.event_store import chain_violations, ensure_store

VERIFICATIONS_DDL = """
create table if not exists store.chain_verifications (
    verified_through_seq bigint not null,   -- every event up to this seq verified
    chain_hash varchar not null,            -- the stored chain hash of that event then
    mode varchar not null,                  -- full | incremental
    partition_date date,
    verified_at timestamptz not null,
    run_id varchar not null
);
"""

# A weekly full walk finds edits of old events that the daily check does not look at. Weekly
# by the clock of the runs, not by the dates they run for: a backfill runs weeks of dates in
# an hour, and walking the whole chain on each of their Sundays (as this once did) cost 5,
# 14, 23 and 33 s in a 30-date backfill at 100k payments a day, more each week as the store
# grows: a year's backfill would walk it 52 times.
FULL_WALK_EVERY = timedelta(days=7)


def full_walk_due(conn: duckdb.DuckDBPyConnection, now: datetime) -> bool:
    """True when no full walk verified the chain within `FULL_WALK_EVERY` before `now`."""
    ensure_store(conn)
    conn.execute(VERIFICATIONS_DDL)
    (last,) = conn.execute(
        "select max(verified_at) from store.chain_verifications where mode = 'full'"
    ).fetchone()
    return last is None or now - last >= FULL_WALK_EVERY


def verify_chain(
    conn: duckdb.DuckDBPyConnection,
    partition_date: date | None,
    run_id: str,
    now: datetime,
    full: bool = False,
    limit: int = 20,
) -> list[dict]:
    """Check the chain (incrementally when a verified anchor holds) and, if it is intact,
    record its last link as the new anchor. Returns the violations, like `chain_violations`."""
    ensure_store(conn)
    conn.execute(VERIFICATIONS_DDL)
    anchor = _latest_anchor(conn)
    broken_anchor = anchor is not None and not _anchor_holds(conn, anchor[0], anchor[1])
    rerun = (
        anchor is not None
        and partition_date is not None
        and anchor[2] is not None
        and partition_date <= anchor[2]
    )
    if full or anchor is None or broken_anchor or rerun:
        mode, violations = "full", chain_violations(conn, limit=limit)
    else:
        mode, violations = "incremental", chain_violations(conn, limit=limit, since_seq=anchor[0])
    if broken_anchor:
        # Even a chain re-hashed from the edit onwards (so every link agrees) breaks here.
        seq = anchor[0]
        if all(violation["seq"] != seq for violation in violations):
            violations = sorted(
                [*violations, {"seq": seq, "idempotency_key": _key_at(conn, seq)}],
                key=lambda violation: violation["seq"],
            )[:limit]
        return violations
    if not violations:
        _record_anchor(conn, mode, partition_date, run_id, now)
    return violations


def _latest_anchor(conn) -> tuple[int, str, date | None] | None:
    """The last verified link: (seq, chain hash, the date whose run verified it)."""
    # Of several verifications of the same link (full walks with nothing new between them),
    # the latest date's: a run of any date up to it is a re-run.
    rows = conn.execute(
        "select verified_through_seq, chain_hash, partition_date "
        "from store.chain_verifications "
        "order by verified_through_seq desc, partition_date desc nulls last limit 1"
    ).fetchall()
    return rows[0] if rows else None


def _anchor_holds(conn, seq: int, chain_hash: str) -> bool:
    """The verified prefix is still there, complete (seq 1..anchor), ending in the same link."""
    # Two narrow reads: the point lookup and the count need no string column of the history.
    stored = conn.execute("select chain_hash from store.events where seq = ?", [seq]).fetchall()
    (count,) = conn.execute(
        "select count(*) from store.events where seq between 1 and ?", [seq]
    ).fetchone()
    return stored == [(chain_hash,)] and count == seq


def _key_at(conn, seq: int) -> str | None:
    rows = conn.execute("select idempotency_key from store.events where seq = ?", [seq]).fetchall()
    return rows[0][0] if rows else None


def _record_anchor(conn, mode, partition_date, run_id, now) -> None:
    # A full walk is recorded even when nothing was stored since the last anchor: the next one
    # is due a week after the last recorded (`full_walk_due`), so a walk left unrecorded would
    # be repeated by every run until an event arrived.
    conn.execute(
        """
        insert into store.chain_verifications
        select seq, chain_hash, $mode, $day, $now, $run
        from store.events
        where seq = (select max(seq) from store.events)
          and seq >= coalesce((select max(verified_through_seq)
                               from store.chain_verifications), 0)
                     + (case when $mode = 'full' then 0 else 1 end)
        """,
        {"mode": mode, "day": partition_date, "now": now, "run": run_id},
    )
