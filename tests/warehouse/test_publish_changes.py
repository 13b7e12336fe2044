"""A publish that starts from the last published file writes what a publish from scratch
writes, and rewrites only the rows that changed."""

from __future__ import annotations

from collections import Counter

import duckdb
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from billing_pipeline.warehouse import publish as publish_module
from billing_pipeline.warehouse.publish import publish, publish_with_changes

# (id, amount, tags, JSON detail): repeated rows, nulls, lists and zstd text all occur.
row = st.tuples(
    st.integers(0, 6),
    st.one_of(st.none(), st.integers(-5, 5)),
    st.lists(st.sampled_from(["a", "b"]), max_size=2),
    st.one_of(st.none(), st.sampled_from(['{"k": 1}', '{"k": 2}'])),
)
# A first day, then days that drop some rows (by position) and add others, as a warehouse
# changes from one day to the next.
first_day = st.lists(row, max_size=12)
change = st.tuples(st.lists(st.integers(0, 11), max_size=3), st.lists(row, max_size=3))


def _days(first: list[tuple], changes: list[tuple]) -> list[list[tuple]]:
    days = [first]
    for dropped, added in changes:
        days.append([r for i, r in enumerate(days[-1]) if i not in dropped] + added)
    return days


def _load(conn: duckdb.DuckDBPyConnection, rows: list[tuple]) -> None:
    conn.execute("create schema if not exists recon")
    conn.execute(
        "create or replace table recon.matches (match_no integer, amount_minor bigint, "
        "tags varchar[], detail varchar)"
    )
    if rows:
        conn.executemany("insert into recon.matches values (?, ?, ?, ?)", rows)


def _content(path) -> dict[str, list]:
    """Every relation's columns and rows, order aside."""
    with duckdb.connect(str(path), read_only=True) as reader:
        relations = reader.execute(
            "select schema_name, table_name from duckdb_tables() order by all"
        ).fetchall()
        return {
            f"{schema}.{table}": [
                reader.execute(f'describe "{schema}"."{table}"').fetchall(),
                sorted(
                    reader.execute(f'from "{schema}"."{table}"').fetchall(),
                    key=repr,
                ),
            ]
            for schema, table in relations
        }


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(first=first_day, changes=st.lists(change, max_size=3))
def test_publishing_the_changes_day_after_day_equals_publishing_everything(
    tmp_path_factory, first, changes
):
    days = _days(first, changes)
    folder = tmp_path_factory.mktemp("publish")
    changed, whole = folder / "changed" / "analytics.duckdb", folder / "whole" / "analytics.duckdb"
    published: Counter = Counter()
    with duckdb.connect(str(folder / "billing.duckdb")) as conn:
        for rows in days:
            _load(conn, rows)
            _, how = publish_with_changes(conn, changed)
            publish(conn, whole, full=True)
            assert _content(changed) == _content(whole)
            # An update writes exactly the rows whose number of copies changed.
            today = Counter(tuple(tuple(v) if isinstance(v, list) else v for v in r) for r in rows)
            moved = [r for r in published | today if published[r] != today[r]]
            if how["recon.matches"].mode == "updated":
                assert how["recon.matches"].deleted == sum(published[r] for r in moved)
                assert how["recon.matches"].inserted == sum(today[r] for r in moved)
            published = today


def test_an_update_deletes_and_inserts_only_the_changed_rows(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema ledger")
        conn.execute("create table ledger.journal_lines as select range as n from range(1000)")
        publish(conn, target)
        conn.execute("delete from ledger.journal_lines where n < 10")
        conn.execute("insert into ledger.journal_lines select range from range(1000, 1030)")
        counts, how = publish_with_changes(conn, target)
        _, again = publish_with_changes(conn, target)
    assert counts == {"ledger.journal_lines": 1020}
    assert (how["ledger.journal_lines"].deleted, how["ledger.journal_lines"].inserted) == (10, 30)
    assert again["ledger.journal_lines"].mode == "unchanged"
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute(
            "select min(n), max(n), count(*) from ledger.journal_lines"
        ).fetchone() == (10, 1029, 1020)


def test_a_relation_whose_columns_changed_is_written_whole(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema fx")
        conn.execute("create table fx.rates as select 1 as pair, '1.1' as rate")
        publish(conn, target)
        conn.execute(
            "create or replace table fx.rates as select 1 as pair, 1.1::decimal(18, 6) as rate"
        )
        _, how = publish_with_changes(conn, target)
    assert how["fx.rates"].mode == "rewritten"
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute(
            "select data_type from information_schema.columns where column_name = 'rate'"
        ).fetchall() == [("DECIMAL(18,6)",)]


def test_the_file_keeps_only_published_relations(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema ops")
        conn.execute("create table ops.quarantine as select 1 as n")
        conn.execute("create table ops.retired as select 1 as n")
        publish(conn, target)
        # An analyst wrote into the published file; a model was removed.
        with duckdb.connect(str(target)) as analyst:
            analyst.execute("create schema scratch")
            analyst.execute("create table scratch.mine as select 1 as n")
            analyst.execute("create view ops.my_view as select 1 as n")
        conn.execute("drop table ops.retired")
        publish(conn, target)
    with duckdb.connect(str(target), read_only=True) as reader:
        tables = reader.execute("select schema_name, table_name from duckdb_tables()").fetchall()
        views = reader.execute("select view_name from duckdb_views() where not internal").fetchall()
        schemas = {
            r[0] for r in reader.execute("select schema_name from duckdb_schemas()").fetchall()
        }
    assert tables == [("ops", "quarantine")]
    assert views == []
    assert "scratch" not in schemas


def test_an_unreadable_published_file_is_replaced_by_a_publish_from_scratch(tmp_path):
    target = tmp_path / "analytics.duckdb"
    target.write_bytes(b"not a database")
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema ledger")
        conn.execute("create table ledger.trial_balance as select 7 as n")
        _, how = publish_with_changes(conn, target)
    assert how == {"ledger.trial_balance": how["ledger.trial_balance"]}
    assert how["ledger.trial_balance"].mode == "copied"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["analytics.duckdb", "billing.duckdb"]
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("select n from ledger.trial_balance").fetchall() == [(7,)]


def test_the_file_does_not_grow_with_the_days_it_was_updated(tmp_path, monkeypatch):
    """Deleted rows leave space behind in the file: a tenth of the rows changing every day
    for twenty days must not make it much larger than the same rows published whole."""
    monkeypatch.setattr(publish_module, "MIN_FREE_BYTES", 0)  # a small file stands for a large one
    changed, whole = tmp_path / "changed.duckdb", tmp_path / "whole.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema payments")
        conn.execute(
            "create table payments.payment_states as select range as id, 'open' as state, "
            "md5(range::varchar) as ref from range(200000)"
        )
        for today in range(20):
            conn.execute(
                "update payments.payment_states set state = 'settled ' || ? where id % 10 = ?",
                [today, today % 10],
            )
            publish(conn, changed)
        publish(conn, whole, full=True)
    assert changed.stat().st_size <= 2 * whole.stat().st_size
