"""The published rate table: one row per booked currency and date, never a made-up rate."""

import json
from datetime import UTC, date, datetime

import duckdb
import pytest

from billing_pipeline.warehouse import partition_marks
from billing_pipeline.warehouse.fx_rates import build_rate_table
from billing_pipeline.warehouse.tables import ensure_schema


def _store_event(conn, key: str, day: date, currency: str) -> None:
    conn.execute(
        "insert into store.events values (?, ?, 'payment.captured', ?, ?, 'payment', 'p', ?, "
        "'h', 'p', 'c', 'events', 'f', 1, ?, ?, 'r')",
        [
            conn.execute("select count(*) + 1 from store.events").fetchone()[0],
            key,
            datetime(day.year, day.month, day.day, 12, tzinfo=UTC),
            day,
            json.dumps({"currency": currency}),
            day,
            datetime(2026, 10, 12, tzinfo=UTC),
        ],
    )


def test_weekends_use_fridays_fixing_and_a_currency_without_rate_says_why():
    conn = duckdb.connect()
    ensure_schema(conn)
    _store_event(conn, "e1", date(2026, 10, 9), "EUR")  # a Friday
    _store_event(conn, "e2", date(2026, 10, 11), "KWD")  # a Sunday; ECB has no KWD

    build_rate_table(conn, "USD")

    rows = {
        (d.isoformat(), c): (rate, fixing, source, problem)
        for d, c, rate, fixing, source, problem in conn.execute(
            "select rate_date, currency, rate, fixing_date, source, problem "
            "from ledger_store.fx_rates"
        ).fetchall()
    }
    assert len(rows) == 3 * 2  # Friday to Sunday, two currencies
    friday = rows[("2026-10-09", "EUR")]
    assert rows[("2026-10-11", "EUR")] == friday  # Sunday carries Friday's fixing
    assert friday[1] == date(2026, 10, 9) and friday[2] == "ecb"
    rate, _, _, problem = rows[("2026-10-11", "KWD")]
    assert rate is None and "KWD" in problem


def test_a_currency_first_booked_after_the_last_build_gets_its_rows():
    conn = duckdb.connect()
    ensure_schema(conn)
    _store_event(conn, "e1", date(2026, 10, 9), "EUR")
    build_rate_table(conn, "USD")
    _store_event(conn, "e2", date(2026, 10, 9), "GBP")
    conn.execute(  # an event without a currency books none
        "insert into store.events select * replace (seq + 1 as seq, 'e3' as idempotency_key, "
        "'{\"amount_minor\": 5}' as payload) from store.events where seq = 2"
    )

    build_rate_table(conn, "USD")

    currencies = conn.execute(
        "select distinct currency from ledger_store.fx_rates order by 1"
    ).fetchall()
    assert currencies == [("EUR",), ("GBP",)]


def test_a_half_written_store_is_refused_before_its_events_are_copied():
    conn = duckdb.connect()
    ensure_schema(conn)
    _store_event(conn, "e1", date(2026, 10, 9), "EUR")
    partition_marks.mark_started(
        conn, partition_marks.STORE_STAGED, date(2026, 10, 9), "run1", datetime(2026, 10, 9)
    )

    with pytest.raises(partition_marks.UnfinishedWrite):
        build_rate_table(conn, "USD")

    copies = conn.execute(
        "select (select count(*) from ledger_cache.event_keys), "
        "(select count(*) from ledger_cache.watermark)"
    ).fetchone()
    assert copies == (0, 0)
