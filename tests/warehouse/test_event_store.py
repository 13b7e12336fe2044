"""The event store applies each idempotency key once and never overwrites a payload."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime

import duckdb
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.warehouse import event_store
from billing_pipeline.warehouse.chain_verification import verify_chain
from billing_pipeline.warehouse.event_store import append_partition, chain_violations
from billing_pipeline.warehouse.tables import ensure_schema

NOW = datetime(2026, 10, 6, 6, 0, tzinfo=UTC)


def _stage_event(
    conn, day: date, file_id: str, line: int, event_id: str, amount: int, hour: int = 12
) -> None:
    payload = json.dumps({"event_id": event_id, "amount_minor": amount}, sort_keys=True)
    conn.execute(
        "insert into raw.billing_events (file_id, source, partition_date, event_id, type, "
        "occurred_at, payment_id, amount_minor, currency, payload, source_line) "
        "values (?, 'events', ?, ?, 'payment.captured', ?, 'pay_1', ?, 'USD', ?, ?)",
        [file_id, day, event_id, datetime(day.year, day.month, day.day, hour, tzinfo=UTC),
         amount, payload, line],
    )  # fmt: skip


@pytest.fixture
def conn():
    connection = duckdb.connect()
    ensure_schema(connection)
    yield connection
    connection.close()


def _receipts(conn) -> dict[str, int]:
    return dict(
        conn.execute("select outcome, count(*) from store.event_receipts group by 1").fetchall()
    )


def test_same_key_same_payload_is_a_duplicate_and_different_payload_a_conflict(conn):
    day = date(2026, 10, 5)
    _stage_event(conn, day, "f1", 1, "evt_a", 100)
    _stage_event(conn, day, "f1", 2, "evt_a", 100)  # replayed line
    _stage_event(conn, day, "f1", 3, "evt_a", 999)  # same id, different payload
    _stage_event(conn, day, "f1", 4, "evt_b", 200)

    report = append_partition(conn, day, "UTC", "run1", NOW)

    assert (report.appended, report.duplicates, report.conflicts) == (2, 1, 1)
    stored = conn.execute(
        "select idempotency_key, payload from store.events order by seq"
    ).fetchall()
    assert [k for k, _ in stored] == ["evt_a", "evt_b"]
    assert json.loads(stored[0][1])["amount_minor"] == 100  # the first payload is kept
    quarantined = conn.execute(
        "select line_no, reason, raw_record from ingest.quarantine where stage = 'ledger'"
    ).fetchall()
    assert [(line, reason) for line, reason, _ in quarantined] == [
        (3, "conflicting payload for idempotency key evt_a (kept: the first one recorded)")
    ]
    # The quarantine keeps the refused payload, read again from its own staged line.
    assert json.loads(quarantined[0][2])["amount_minor"] == 999


def test_an_event_dated_after_its_delivery_is_quarantined_with_its_own_line_and_payload(conn):
    day = date(2026, 10, 5)
    _stage_event(conn, day, "f1", 1, "evt_a", 100)
    _stage_event(conn, date(2026, 10, 8), "f1", 2, "evt_b", 200)  # dated three days later
    conn.execute("update raw.billing_events set partition_date = ?", [day])

    report = append_partition(conn, day, "UTC", "run1", NOW)

    assert (report.appended, report.out_of_range) == (1, 1)
    assert conn.execute(
        "select line_no, reason, raw_record from ingest.quarantine where stage = 'ledger'"
    ).fetchall() == [
        (2, "event dated 2026-10-08 after its delivery date 2026-10-05",
         json.dumps({"event_id": "evt_b", "amount_minor": 200}, sort_keys=True))
    ]  # fmt: skip
    assert _receipts(conn) == {"appended": 1, "rejected": 1}


def test_rerunning_a_partition_changes_nothing(conn):
    day = date(2026, 10, 5)
    _stage_event(conn, day, "f1", 1, "evt_a", 100)
    _stage_event(conn, day, "f1", 2, "evt_a", 555)
    append_partition(conn, day, "UTC", "run1", NOW)
    before = conn.execute("select * from store.events order by seq").fetchall()
    receipts_before = _receipts(conn)

    append_partition(conn, day, "UTC", "run2", NOW)

    assert conn.execute("select * from store.events order by seq").fetchall() == before
    assert _receipts(conn) == receipts_before
    assert conn.execute("select count(*) from ingest.quarantine").fetchone() == (1,)


def test_an_event_delivered_again_on_a_later_day_is_a_duplicate(conn):
    _stage_event(conn, date(2026, 10, 5), "f1", 1, "evt_a", 100)
    _stage_event(conn, date(2026, 10, 6), "f2", 7, "evt_a", 100)
    append_partition(conn, date(2026, 10, 5), "UTC", "run1", NOW)
    report = append_partition(conn, date(2026, 10, 6), "UTC", "run2", NOW)
    assert (report.appended, report.duplicates, report.conflicts) == (0, 1, 0)


def test_editing_a_stored_payload_breaks_the_hash_chain(conn):
    day = date(2026, 10, 5)
    for line, event_id in enumerate(["evt_a", "evt_b", "evt_c"], start=1):
        _stage_event(conn, day, "f1", line, event_id, 100 * line)
    append_partition(conn, day, "UTC", "run1", NOW)
    assert chain_violations(conn) == []

    conn.execute("update store.events set payload = replace(payload, '200', '201') where seq = 2")

    assert [v["seq"] for v in chain_violations(conn)][:1] == [2]


@settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 2), st.sampled_from(["e1", "e2", "e3", "e4"]), st.integers(1, 3)),
        min_size=1,
        max_size=15,
    ),
    order=st.permutations([0, 1, 2]),
)
def test_every_staged_row_gets_exactly_one_receipt_and_each_key_is_stored_once(rows, order):
    conn = duckdb.connect()
    ensure_schema(conn)
    days = [date(2026, 10, 5 + i) for i in range(3)]
    for line, (day_index, event_id, amount) in enumerate(rows, start=1):
        _stage_event(conn, days[day_index], f"f{day_index}", line, event_id, amount)
    for day_index in [*order, *order]:  # every partition twice, in any order
        append_partition(conn, days[day_index], "UTC", "run", NOW)
        # The daily check (incremental after the first) agrees with the full walk.
        assert verify_chain(conn, days[day_index], "run", NOW) == chain_violations(conn) == []

    receipts = _receipts(conn)
    assert sum(receipts.values()) == len(rows)
    distinct_keys = {event_id for _, event_id, _ in rows}
    assert receipts.get("appended", 0) == len(distinct_keys)
    assert conn.execute("select count(*) from store.events").fetchone() == (len(distinct_keys),)
    assert chain_violations(conn) == []
    conflicts = conn.execute("select count(*) from ingest.quarantine").fetchone()[0]
    assert conflicts == receipts.get("conflict", 0)
    conn.close()


def test_an_event_appended_after_the_last_verified_link_is_checked_the_next_day(conn):
    monday, tuesday = date(2026, 10, 5), date(2026, 10, 6)
    _stage_event(conn, monday, "f1", 1, "evt_a", 100)
    _stage_event(conn, tuesday, "f2", 1, "evt_b", 200)
    _stage_event(conn, tuesday, "f2", 2, "evt_c", 300)
    append_partition(conn, monday, "UTC", "run1", NOW)
    assert verify_chain(conn, monday, "run1", NOW) == []
    append_partition(conn, tuesday, "UTC", "run2", NOW)

    conn.execute("update store.events set payload = replace(payload, '300', '301') where seq = 3")

    assert verify_chain(conn, tuesday, "run2", NOW) == [{"seq": 3, "idempotency_key": "evt_c"}]
    assert conn.execute(
        "select max(verified_through_seq) from store.chain_verifications"
    ).fetchone() == (1,)


def test_an_append_racing_another_fails_at_commit_and_its_rerun_stores_no_key_twice(
    conn, monkeypatch
):
    monday, tuesday = date(2026, 10, 5), date(2026, 10, 6)
    _stage_event(conn, monday, "f1", 1, "evt_a", 100)
    _stage_event(conn, tuesday, "f2", 1, "evt_a", 100)  # the same event, delivered again
    _stage_event(conn, tuesday, "f2", 2, "evt_b", 200)
    rival = conn.cursor()  # a second connection to the same database
    chain_links = event_store._chain_links

    def tuesday_commits_first(*args):
        # Monday's append has classified its candidates against a store without evt_a;
        # Tuesday's append runs and commits before Monday's links and inserts.
        monkeypatch.setattr(event_store, "_chain_links", chain_links)
        append_partition(rival, tuesday, "UTC", "rival", NOW)
        return chain_links(*args)

    monkeypatch.setattr(event_store, "_chain_links", tuesday_commits_first)
    with pytest.raises(duckdb.ConstraintException, match="primary key"):
        append_partition(conn, monday, "UTC", "run1", NOW)
    report = append_partition(conn, monday, "UTC", "run1", NOW)

    assert (report.appended, report.duplicates) == (0, 1)
    assert conn.execute(
        "select idempotency_key, count(*) from store.events group by 1 order by 1"
    ).fetchall() == [("evt_a", 1), ("evt_b", 1)]
    assert chain_violations(conn) == []


@pytest.mark.parametrize("batch", [1, 2, 3])
def test_the_chain_does_not_depend_on_how_many_events_a_window_holds(conn, monkeypatch, batch):
    """Each window is hashed while the one before it is inserted: a window must start from
    the last link of the one before, whatever their sizes."""
    day = date(2026, 10, 5)
    whole = duckdb.connect()
    ensure_schema(whole)
    for target in (conn, whole):
        for line, hour in enumerate([9, 9, 10, 11, 11, 11, 12], 1):
            _stage_event(target, day, "f1", line, f"evt_{line}", 100 * line, hour)
    append_partition(whole, day, "UTC", "run1", NOW)
    monkeypatch.setattr(event_store, "STORE_BATCH", batch)

    append_partition(conn, day, "UTC", "run1", NOW)

    assert _store_and_receipts(conn) == _store_and_receipts(whole)
    assert len(_store_and_receipts(conn)[0]) == 7
    assert chain_violations(conn) == []


class _Stop(BaseException):
    """A stop between batches (a SIGKILL stand-in that no `except Exception` swallows)."""


def _store_and_receipts(conn) -> tuple[list[tuple], list[tuple]]:
    events = conn.execute(
        "select seq, idempotency_key, payload_hash, prev_hash, chain_hash from store.events "
        "order by seq"
    ).fetchall()
    receipts = conn.execute(
        "select file_id, source_line, idempotency_key, outcome from store.event_receipts "
        "order by all"
    ).fetchall()
    return events, receipts


def test_an_append_stopped_between_batches_is_refused_by_readers_and_its_rerun_completes_it(
    conn, monkeypatch
):
    from billing_pipeline.warehouse.ledger import rate_book
    from billing_pipeline.warehouse.partition_marks import UnfinishedWrite, unfinished_writes

    day = date(2026, 10, 5)
    whole = duckdb.connect()
    ensure_schema(whole)
    for target in (conn, whole):
        # Two events at each of three instants, a replayed line among them.
        lines = [("evt_d", 9), ("evt_a", 8), ("evt_c", 9), ("evt_a", 8), ("evt_e", 10),
                 ("evt_b", 8), ("evt_f", 10)]  # fmt: skip
        for line, (key, hour) in enumerate(lines, 1):
            _stage_event(target, day, "f1", line, key, 100, hour)
    append_partition(whole, day, "UTC", "run1", NOW)
    monkeypatch.setattr(event_store, "STORE_BATCH", 2)
    chain_links, calls = event_store._chain_links, []

    def stops_at_the_third_batch(*args):
        calls.append(1)
        if len(calls) == 3:
            raise _Stop
        return chain_links(*args)

    monkeypatch.setattr(event_store, "_chain_links", stops_at_the_third_batch)
    with pytest.raises(_Stop):
        append_partition(conn, day, "UTC", "run1", NOW)

    # Two windows were committed: the first four events in arrival order, chained.
    stored = [key for _, key, *_ in _store_and_receipts(conn)[0]]
    assert stored == ["evt_a", "evt_b", "evt_c", "evt_d"]
    assert chain_violations(conn) == []
    assert unfinished_writes(conn) == [("event store staged", day, "run1")]
    with pytest.raises(UnfinishedWrite, match="event store staged 2026-10-05"):
        rate_book(conn)

    monkeypatch.setattr(event_store, "_chain_links", chain_links)
    report = append_partition(conn, day, "UTC", "run2", NOW)

    assert (report.appended, report.duplicates) == (6, 1)
    assert unfinished_writes(conn) == []
    assert _store_and_receipts(conn) == _store_and_receipts(whole)
    assert chain_violations(conn) == []


def test_a_stopped_decisions_append_blocks_the_ledger_but_not_the_steps_that_precede_it(conn):
    from billing_pipeline.domain.rounding import rounding_rule
    from billing_pipeline.warehouse import partition_marks
    from billing_pipeline.warehouse.ledger import rate_book, rebuild_ledger

    day = date(2026, 10, 5)
    _stage_event(conn, day, "f1", 1, "evt_a", 100)
    partition_marks.mark_started(conn, partition_marks.STORE_RECON, day, "run1", NOW)

    # The rerun of the day must get through the store and FX rates to reach recon again.
    assert append_partition(conn, day, "UTC", "run2", NOW).appended == 1
    rate_book(conn)
    with pytest.raises(partition_marks.UnfinishedWrite, match="event store recon 2026-10-05"):
        rebuild_ledger(conn, "EUR", rounding_rule("half_even"), "run2", NOW)


_DECISION_COLUMNS = (
    "as_of, idempotency_key, event_type, occurred_at, business_date, aggregate_type, "
    "aggregate_id, payload, source, run_id, source_line"
)


def _slice_decisions(conn, day, decisions, lines):
    for (key, hour), line in zip(decisions, lines, strict=True):
        conn.execute(
            f"insert into recon_store.decisions ({_DECISION_COLUMNS}) values (?, ?, "
            "'recon.settled', ?, ?, 'payment', 'pay_1', ?, 'recon', 'run1', ?)",
            [day, key, datetime(2026, 10, 5, hour, tzinfo=UTC), day, json.dumps({"k": key}), line],
        )


def test_decisions_appended_window_by_window_are_lined_by_key_rank_with_their_payloads(
    conn, monkeypatch
):
    from billing_pipeline.recon import store as recon_store
    from billing_pipeline.warehouse.event_store import append_decisions

    recon_store.ensure_tables(conn)
    day = date(2026, 10, 5)
    # Keys out of instant order, two windows of two and one of one (STORE_BATCH = 2). The
    # slice is unnumbered, as a slice written before recon numbered its lines is.
    decisions = [("recon:c", 9), ("recon:a", 10), ("recon:e", 11), ("recon:b", 12), ("recon:d", 13)]
    _slice_decisions(conn, day, decisions, [None] * len(decisions))
    monkeypatch.setattr(event_store, "STORE_BATCH", 2)

    report = append_decisions(conn, day, "run1", NOW)
    again = append_decisions(conn, day, "run2", NOW)

    assert (report.appended, again.appended, again.duplicates) == (5, 5, 0)
    stored = conn.execute(
        "select idempotency_key, file_id, source_line, payload from store.events order by seq"
    ).fetchall()
    assert stored == [
        (key, "recon:2026-10-05", sorted(k for k, _ in decisions).index(key) + 1,
         json.dumps({"k": key}))
        for key, _ in decisions
    ]  # fmt: skip
    assert chain_violations(conn) == []


def test_decisions_keep_the_lines_their_slice_numbered_them_with(conn, monkeypatch):
    from billing_pipeline.recon import store as recon_store
    from billing_pipeline.warehouse.event_store import append_decisions

    recon_store.ensure_tables(conn)
    day = date(2026, 10, 5)
    decisions = [("recon:c", 9), ("recon:a", 10), ("recon:e", 11), ("recon:b", 12), ("recon:d", 13)]
    # Lines other than the key rank: the append must take the slice's, not number them again.
    lines = [5, 4, 3, 2, 1]
    _slice_decisions(conn, day, decisions, lines)
    monkeypatch.setattr(event_store, "STORE_BATCH", 2)

    report = append_decisions(conn, day, "run1", NOW)

    assert report.appended == 5
    stored = conn.execute(
        "select idempotency_key, source_line from store.events order by seq"
    ).fetchall()
    assert stored == [(key, line) for (key, _), line in zip(decisions, lines, strict=True)]
    assert chain_violations(conn) == []


def test_payloads_are_stored_zstd_compressed_in_every_table_that_holds_them(tmp_path):
    # JSON payloads are most of the bytes the pipeline writes; DuckDB's own pick for them
    # (dictionary + FSST) wrote slower and larger (tables.PAYLOAD_TYPE).
    from billing_pipeline.recon import store as recon_store

    day = date(2026, 10, 5)
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        ensure_schema(conn)
        recon_store.ensure_tables(conn)
        for line in range(1, 301):
            _stage_event(conn, day, "f1", line, f"evt_{line}", line)
        append_partition(conn, day, "UTC", "run1", NOW)
        conn.execute(
            "insert into recon_store.decisions by name select $d as as_of, "
            "'recon:' || idempotency_key as idempotency_key, 'payment.settled' as event_type, "
            "occurred_at, $d as business_date, 'payment' as aggregate_type, "
            "'pay_1' as aggregate_id, payload, 'recon' as source, 'run1' as run_id "
            "from store.events",
            {"d": day},
        )
        conn.execute("checkpoint")
        codecs = {
            table: {
                codec
                for (codec,) in conn.execute(
                    "select distinct compression from pragma_storage_info(?) "
                    "where column_name = 'payload' and segment_type = 'VARCHAR'",
                    [table],
                ).fetchall()
            }
            for table in ("raw.billing_events", "store.events", "recon_store.decisions")
        }
        stored = conn.execute("select count(*) from store.events").fetchone()[0]
    assert codecs == {table: {"ZSTD"} for table in codecs}
    assert stored == 300
