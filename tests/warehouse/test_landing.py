"""Landing: every delivered file is registered once by its bytes, and no row is lost."""

import json
from datetime import UTC, date, datetime
from pathlib import Path

import duckdb
import pytest

from billing_pipeline.warehouse.audits import nothing_lost_violations
from billing_pipeline.warehouse.landing import land_partition

DAY = date(2026, 10, 5)
NOW = datetime(2026, 10, 6, 6, 0, tzinfo=UTC)


def _event(event_id: str, amount: int = 1000) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "type": "invoice.created",
            "occurred_at": "2026-10-05T10:00:00+02:00",
            "invoice_id": "inv_1",
            "customer_id": "cus_1",
            "amount_minor": amount,
            "currency": "EUR",
            "due_date": "2026-11-04",
        }
    )


def _deliver(inbox: Path, source: str, name: str, content: str | bytes, day: date = DAY) -> None:
    folder = inbox / source / day.isoformat()
    folder.mkdir(parents=True, exist_ok=True)
    data = content.encode() if isinstance(content, str) else content
    (folder / name).write_bytes(data)


@pytest.fixture
def conn():
    connection = duckdb.connect()
    yield connection
    connection.close()


def _registry(conn) -> list[tuple]:
    return conn.execute(
        "select path, status, path_version, rows_read, rows_staged, rows_quarantined "
        "from ingest.file_registry order by path, path_version"
    ).fetchall()


def test_the_same_bytes_under_another_name_land_once(conn, tmp_path):
    body = "\n".join([_event("evt_1"), _event("evt_2")]) + "\n"
    _deliver(tmp_path, "events", "a.jsonl", body)
    _deliver(tmp_path, "events", "b-copy.jsonl", body)

    report = land_partition(conn, tmp_path, "events", DAY, "run1", NOW)

    assert [(f.path.split("/")[-1], f.status) for f in report.files] == [
        ("a.jsonl", "landed"),
        ("b-copy.jsonl", "duplicate"),
    ]
    assert conn.execute("select count(*) from raw.billing_events").fetchone() == (2,)


def test_the_same_bytes_delivered_on_a_later_day_land_once(conn, tmp_path):
    body = _event("evt_1") + "\n"
    _deliver(tmp_path, "events", "e.jsonl", body, DAY)
    _deliver(tmp_path, "events", "e.jsonl", body, date(2026, 10, 6))
    land_partition(conn, tmp_path, "events", DAY, "run1", NOW)
    later = land_partition(conn, tmp_path, "events", date(2026, 10, 6), "run2", NOW)
    assert later.files[0].status == "duplicate"
    assert conn.execute("select count(*) from raw.billing_events").fetchone() == (1,)


def test_a_changed_file_under_a_known_name_is_a_new_version_and_the_old_one_is_kept(conn, tmp_path):
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\n")
    land_partition(conn, tmp_path, "events", DAY, "run1", NOW)
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\n" + _event("evt_2") + "\n")

    land_partition(conn, tmp_path, "events", DAY, "run2", NOW)

    registry = _registry(conn)
    assert [(status, version) for _, status, version, *_ in registry] == [
        ("superseded", 1),
        ("landed", 2),
    ]
    staged = conn.execute("select event_id from raw.billing_events order by 1").fetchall()
    assert staged == [("evt_1",), ("evt_2",)]  # the new version's rows, not both merged


def test_rerunning_a_partition_gives_the_same_tables(conn, tmp_path):
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\nnot json\n" + _event("evt_2"))
    land_partition(conn, tmp_path, "events", DAY, "run1", NOW)
    first = (_registry(conn), conn.execute("select * from raw.billing_events").fetchall())
    land_partition(conn, tmp_path, "events", DAY, "run2", NOW)
    second = (_registry(conn), conn.execute("select * from raw.billing_events").fetchall())
    assert first == second
    assert conn.execute("select count(*) from ingest.quarantine").fetchone() == (1,)


def test_an_unreadable_file_is_quarantined_whole_and_the_others_still_land(conn, tmp_path):
    _deliver(tmp_path, "bank", "broken.xml", b"<?xml version='1.0'?><Document><BkToCstmrStmt>")
    _deliver(
        tmp_path,
        "bank",
        "statement.csv",
        "account_id,booking_date,value_date,amount,currency,reference,description,counterparty\n"
        "DE89370400440532013000,2026-10-05,2026-10-05,12.50,EUR,REF1,rent,ACME\n",
    )
    report = land_partition(conn, tmp_path, "bank", DAY, "run1", NOW)

    outcomes = {f.path.split("/")[-1]: f.status for f in report.files}
    assert outcomes == {"broken.xml": "unreadable", "statement.csv": "landed"}
    reason = conn.execute(
        "select reason from ingest.quarantine where path like '%broken.xml'"
    ).fetchone()[0]
    assert reason.startswith("unreadable file")
    assert conn.execute("select amount_minor from raw.bank_lines").fetchall() == [(1250,)]
    assert nothing_lost_violations(conn, "bank", DAY) == []


def test_bad_rows_are_quarantined_with_file_line_and_reason(conn, tmp_path):
    header = "account_id,booking_date,value_date,amount,currency,reference,description,counterparty"
    rows = [
        "DE89370400440532013000,2026-10-05,2026-10-05,12.50,EUR,R1,ok,A",
        "DE89370400440532013000,2026-10-05,2026-10-05,1.005,EUR,R2,too many decimals,A",
        "DE89370400440532013000,2026-13-05,2026-10-05,3.00,EUR,R3,bad date,A",
        "DE89370400440532013000,2026-10-05,2026-10-05,3.00,ZZZ,R4,unknown currency,A",
    ]
    _deliver(tmp_path, "bank", "s.csv", "\n".join([header, *rows]) + "\n")

    land_partition(conn, tmp_path, "bank", DAY, "run1", NOW)

    quarantined = conn.execute(
        "select line_no, reason from ingest.quarantine order by line_no"
    ).fetchall()
    assert [line for line, _ in quarantined] == [3, 4, 5]
    assert "decimals" in quarantined[0][1]
    assert "ZZZ" in quarantined[2][1]
    assert _registry(conn)[0][3:] == (4, 1, 3)
    assert nothing_lost_violations(conn, "bank", DAY) == []


def test_nothing_lost_check_notices_a_row_deleted_behind_its_back(conn, tmp_path):
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\n" + _event("evt_2") + "\n")
    land_partition(conn, tmp_path, "events", DAY, "run1", NOW)
    conn.execute("delete from raw.billing_events where event_id = 'evt_2'")
    violations = nothing_lost_violations(conn, "events", DAY)
    assert [(v["rows_read"], v["rows_in_staging"]) for v in violations] == [(2, 1)]


def test_a_link_out_of_the_inbox_is_refused_and_recorded(conn, tmp_path):
    secret = tmp_path / "secret.csv"
    secret.write_text("account_id,booking_date\nDE00,2026-10-05\n")
    folder = tmp_path / "inbox" / "bank" / DAY.isoformat()
    folder.mkdir(parents=True)
    (folder / "statement.csv").symlink_to(secret)

    report = land_partition(conn, tmp_path / "inbox", "bank", DAY, "run1", NOW)

    assert [(f.status, f.detail) for f in report.files] == [
        ("unreadable", "unreadable file: a link to a file outside the inbox is not read")
    ]
    assert conn.execute("select raw_record from ingest.quarantine").fetchall() == [
        ("bank/2026-10-05/statement.csv",)
    ]
    assert nothing_lost_violations(conn, "bank", DAY) == []


def _log(count: int, bad_every: int) -> str:
    lines = [
        "{not json" if bad_every and i % bad_every == 0 else _event(f"evt_{i}", amount=i)
        for i in range(1, count + 1)
    ]
    return "\n".join(lines) + "\n"


def _staged_events(conn) -> list[tuple]:
    return conn.execute(
        "select source_line, event_id, amount_minor from raw.billing_events order by rowid"
    ).fetchall()


def _log_landed_whole_then_read_in_small_parts(tmp_path, monkeypatch) -> duckdb.DuckDBPyConnection:
    """Deliver a 23-line log (every 5th line bad) and land it whole into a fresh database,
    returned for comparison; later landings read it in parts of 2 lines, staged 3 or more rows
    at a time, so that inserts fall between parts."""
    from billing_pipeline.formats import events_jsonl
    from billing_pipeline.warehouse import landing

    _deliver(tmp_path, "events", "e.jsonl", _log(23, bad_every=5))
    whole = duckdb.connect()
    land_partition(whole, tmp_path, "events", DAY, "run1", NOW)
    monkeypatch.setattr(events_jsonl, "_CHUNK_ROWS", 2)
    monkeypatch.setattr(landing, "STAGE_ROWS", 3)
    return whole


def test_a_log_read_in_many_parts_stages_every_good_line_once_in_file_order(
    conn, tmp_path, monkeypatch
):
    whole = _log_landed_whole_then_read_in_small_parts(tmp_path, monkeypatch)

    report = land_partition(conn, tmp_path, "events", DAY, "run1", NOW)

    assert (report.rows_read, report.rows_staged, report.rows_quarantined) == (23, 19, 4)
    assert _staged_events(conn) == _staged_events(whole)
    assert [line for line, _, _ in _staged_events(conn)] == [i for i in range(1, 24) if i % 5 != 0]
    assert nothing_lost_violations(conn, "events", DAY) == []


def test_a_log_whose_parser_fails_half_way_stages_nothing_of_it(conn, tmp_path, monkeypatch):
    from billing_pipeline.formats import events_jsonl
    from billing_pipeline.warehouse import landing

    _deliver(tmp_path, "events", "e.jsonl", _log(12, bad_every=0))
    monkeypatch.setattr(events_jsonl, "_CHUNK_ROWS", 2)
    monkeypatch.setattr(landing, "STAGE_ROWS", 3)

    def fails_after_four_parts(path):
        for number, part in enumerate(events_jsonl.parse_path(path)):
            if number == 4:
                raise RuntimeError("disk went away")
            yield part

    monkeypatch.setitem(landing.STREAMED_SOURCES, "events", fails_after_four_parts)

    report = land_partition(conn, tmp_path, "events", DAY, "run1", NOW)

    assert [f.status for f in report.files] == ["unreadable"]
    assert _staged_events(conn) == []
    (reason,) = conn.execute("select reason from ingest.quarantine").fetchone()
    assert reason == "parser failed: RuntimeError: disk went away"


class _Stop(BaseException):
    """A stop between batches (a SIGKILL stand-in that no `except Exception` swallows)."""


def _stop_at_insert(monkeypatch, number: int) -> None:
    from billing_pipeline.warehouse import landing

    real, calls = landing._insert_staged, []

    def insert(*args, **kwargs):
        calls.append(1)
        if len(calls) == number:
            raise _Stop
        return real(*args, **kwargs)

    monkeypatch.setattr(landing, "_insert_staged", insert)


def test_a_landing_stopped_between_batches_is_refused_by_readers_until_landed_again(
    conn, tmp_path, monkeypatch
):
    from billing_pipeline.warehouse.event_store import append_partition
    from billing_pipeline.warehouse.ledger import rate_book
    from billing_pipeline.warehouse.partition_marks import UnfinishedWrite, unfinished_writes

    whole = _log_landed_whole_then_read_in_small_parts(tmp_path, monkeypatch)
    _stop_at_insert(monkeypatch, 3)

    with pytest.raises(_Stop):
        land_partition(conn, tmp_path, "events", DAY, "run1", NOW)

    # Two batches were committed: part of the day is in raw, and the mark says so.
    assert 0 < len(_staged_events(conn)) < len(_staged_events(whole))
    assert unfinished_writes(conn) == [("ingest events", DAY, "run1")]
    with pytest.raises(UnfinishedWrite, match="ingest events 2026-10-05 \\(run run1\\)"):
        append_partition(conn, DAY, "Europe/Berlin", "run2", NOW)
    with pytest.raises(UnfinishedWrite):
        rate_book(conn)

    monkeypatch.undo()
    land_partition(conn, tmp_path, "events", DAY, "run2", NOW)

    assert unfinished_writes(conn) == []
    assert _staged_events(conn) == _staged_events(whole)
    assert _registry(conn) == _registry(whole)
    quarantine = "select line_no, reason from ingest.quarantine order by line_no"
    assert conn.execute(quarantine).fetchall() == whole.execute(quarantine).fetchall()
    assert nothing_lost_violations(conn, "events", DAY) == []
    assert append_partition(conn, DAY, "Europe/Berlin", "run2", NOW).appended == 19


def test_a_changed_file_whose_landing_stopped_keeps_the_versions_seen_before(
    conn, tmp_path, monkeypatch
):
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\n")
    land_partition(conn, tmp_path, "events", DAY, "run1", NOW)
    _deliver(tmp_path, "events", "e.jsonl", _event("evt_1") + "\n" + _event("evt_2") + "\n")
    _stop_at_insert(monkeypatch, 1)
    with pytest.raises(_Stop):
        land_partition(conn, tmp_path, "events", DAY, "run2", NOW)
    monkeypatch.undo()

    land_partition(conn, tmp_path, "events", DAY, "run3", NOW)

    assert [(status, version) for _, status, version, *_ in _registry(conn)] == [
        ("superseded", 1),
        ("landed", 2),
    ]
    staged = conn.execute("select event_id from raw.billing_events order by 1").fetchall()
    assert staged == [("evt_1",), ("evt_2",)]
