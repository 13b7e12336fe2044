"""Matches are stored once with the run dates they hold for; `recon_store.matches` must still
show, for every run date, exactly the list that date's run wrote last, whatever the order of
the runs (backfills, reruns, dates filled in between)."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.recon import match_spans, store

DAY0 = date(2026, 10, 5)
_COLUMNS = (
    "as_of, match_id, leg, rule_id, rule_version, strategy, left_refs, right_refs, amount_minor, "
    "currency, evidence, matched_on, rules_version, run_id"
)


def _warehouse() -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    store.ensure_tables(conn)
    return conn


def _match(number: int, amount: int) -> tuple:
    return (f"m{number}", "ledger_processor", "lp-exact", 1, "one_to_one", [f"l{number}"],
            [f"r{number}"], amount, "EUR", "{}", DAY0)  # fmt: skip


def _write(conn, as_of: date, matches: list[tuple], run: str) -> None:
    conn.execute(
        """
        create or replace temp table recon_out_matches (
            as_of date, match_id varchar, leg varchar, rule_id varchar, rule_version integer,
            strategy varchar, left_refs varchar[], right_refs varchar[], amount_minor bigint,
            currency varchar, evidence varchar, matched_on date, rules_version varchar,
            run_id varchar)
        """
    )
    if matches:
        conn.executemany(
            f"insert into recon_out_matches ({_COLUMNS}) values "
            "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [(as_of, *m, "rules-1", run) for m in matches],
        )
    conn.execute(
        "create or replace temp table recon_out_run_marks as "
        "select ?::date as as_of, 'rules-1' as rules_version, ? as run_id",
        [as_of, run],
    )
    conn.execute("begin transaction")
    match_spans.write(conn, as_of)
    conn.execute("commit")


def _slices(conn) -> dict[date, list[tuple]]:
    rows = conn.execute(f"select {_COLUMNS} from recon_store.matches order by all").fetchall()
    found: dict[date, list[tuple]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row)
    return found


def _expected(model: dict[date, tuple[list[tuple], str]]) -> dict[date, list[tuple]]:
    rows = sorted(
        (day, *m, "rules-1", run) for day, (matches, run) in model.items() for m in matches
    )
    found: dict[date, list[tuple]] = {}
    for row in rows:
        found.setdefault(row[0], []).append(row)
    return found


# A run: a date (0..6) and which of 8 possible matches it lists, each with one of 2 amounts
# (a changed amount is a different match content under the same id).
RUNS = st.lists(
    st.tuples(
        st.integers(0, 6),
        st.dictionaries(st.integers(0, 7), st.sampled_from([100, 250]), max_size=8),
    ),
    min_size=1,
    max_size=14,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(RUNS)
def test_every_run_date_shows_exactly_what_its_last_run_wrote_in_any_order(runs):
    conn = _warehouse()
    model: dict[date, tuple[list[tuple], str]] = {}
    for number, (offset, chosen) in enumerate(runs):
        day = DAY0 + timedelta(days=offset)
        matches = [_match(n, amount) for n, amount in sorted(chosen.items())]
        _write(conn, day, matches, f"run{number}")
        model[day] = (matches, f"run{number}")
        assert _slices(conn) == {d: r for d, r in _expected(model).items() if r}
    # Spans never overlap: a match is listed at most once per date.
    overlaps = conn.execute(
        """
        select count(*) from recon_store.match_spans a join recon_store.match_spans b
          on a.match_key = b.match_key and a.from_as_of < b.from_as_of
         and (a.to_as_of is null or a.to_as_of >= b.from_as_of)
        """
    ).fetchone()[0]
    assert overlaps == 0


def test_a_forward_day_that_changes_nothing_writes_no_span():
    conn = _warehouse()
    matches = [_match(n, 100) for n in range(5)]
    _write(conn, DAY0, matches, "a")
    before = conn.execute("select * from recon_store.match_spans order by all").fetchall()
    _write(conn, DAY0 + timedelta(days=1), matches, "b")
    _write(conn, DAY0 + timedelta(days=2), matches, "c")
    assert conn.execute("select * from recon_store.match_spans order by all").fetchall() == before
    assert conn.execute("select count(*) from recon_store.match_facts").fetchone()[0] == 5
    assert conn.execute("select count(*) from recon_store.matches").fetchone()[0] == 15


def test_a_store_of_whole_slices_is_migrated_to_the_same_rows():
    conn = duckdb.connect()
    conn.execute("create schema recon_store")
    conn.execute(
        """
        create table recon_store.matches (
            as_of date not null, match_id varchar not null, leg varchar not null,
            rule_id varchar not null, rule_version integer not null, strategy varchar not null,
            left_refs varchar[] not null, right_refs varchar[] not null,
            amount_minor bigint, currency varchar, evidence varchar not null, matched_on date,
            rules_version varchar not null, run_id varchar not null)
        """
    )
    # m0 on every date, m1 on the first and third only (a gap), m2 with a changed amount.
    rows = []
    for offset, listed in ((0, [(0, 100), (1, 100), (2, 100)]), (1, [(0, 100), (2, 250)]),
                           (2, [(0, 100), (1, 100), (2, 250)])):  # fmt: skip
        day = DAY0 + timedelta(days=offset)
        rows += [(day, *_match(n, amount), "rules-1", f"run{offset}") for n, amount in listed]
    conn.executemany(
        f"insert into recon_store.matches ({_COLUMNS}) values "
        "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    store.ensure_tables(conn)
    kind = conn.execute(
        "select table_type from information_schema.tables "
        "where table_schema = 'recon_store' and table_name = 'matches'"
    ).fetchone()[0]
    assert kind == "VIEW"
    assert conn.execute(f"select {_COLUMNS} from recon_store.matches order by all").fetchall() == (
        sorted(rows)
    )
    # A later date after the migration continues the spans.
    day = DAY0 + timedelta(days=3)
    _write(conn, day, [_match(0, 100)], "run3")
    assert conn.execute(
        "select match_id from recon_store.matches where as_of = ?", [day]
    ).fetchall() == [("m0",)]


def test_evidence_and_detail_are_stored_zstd_compressed(tmp_path):
    # JSON text written once and read rarely: DuckDB's own pick (dictionary + FSST) wrote the
    # 1M-payment world's match facts slower and twice as large (tables.PAYLOAD_TYPE).
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        store.ensure_tables(conn)
        conn.execute(
            "insert into recon_store.match_facts select 'k' || range, 'm' || range, "
            "'ledger_processor', 'lp-exact', 1, 'one_to_one', ['l' || range], ['r' || range], "
            'range, \'EUR\', \'{"criteria": ["right.amount equals left.amount"], "n": \' '
            "|| range || '}', $d from range(3000)",
            {"d": DAY0},
        )
        conn.execute(
            "insert into recon_store.discrepancies select $d, 'd' || range, 'ledger_processor', "
            "'missing_in_processor', 'l' || range, range, 'EUR', $d, 0, 'pending', "
            "['l' || range], '{\"processor\": \"stripe\", \"n\": ' || range || '}', null, "
            "'v1', 'run1' from range(3000)",
            {"d": DAY0},
        )
        conn.execute("checkpoint")
        codecs = {
            (table, column): {
                codec
                for (codec,) in conn.execute(
                    "select distinct compression from pragma_storage_info(?) "
                    "where column_name = ? and segment_type = 'VARCHAR'",
                    [table, column],
                ).fetchall()
            }
            for table, column in (
                ("recon_store.match_facts", "evidence"),
                ("recon_store.discrepancies", "detail"),
            )
        }
    assert codecs == {key: {"ZSTD"} for key in codecs}
