"""The analyst file is replaced whole, never written in place."""

from __future__ import annotations

import duckdb

from billing_pipeline.warehouse.publish import publish


def _warehouse_with(conn: duckdb.DuckDBPyConnection, rows: int) -> None:
    conn.execute("create schema if not exists ledger")
    conn.execute("create schema if not exists staging")
    conn.execute(
        "create or replace table ledger.trial_balance as select range as n from range(?)", [rows]
    )
    conn.execute("create or replace table staging.not_published as select 1 as x")


def test_publish_copies_only_contract_schemas_and_swaps_the_file(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        _warehouse_with(conn, 3)
        first = publish(conn, target)
        inode_before = target.stat().st_ino
        _warehouse_with(conn, 5)
        second = publish(conn, target)

    assert first == {"ledger.trial_balance": 3}
    assert second == {"ledger.trial_balance": 5}
    assert target.stat().st_ino != inode_before  # a new file renamed into place
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("select count(*) from ledger.trial_balance").fetchone() == (5,)
        schemas = {
            r[0]
            for r in reader.execute(
                "select schema_name from information_schema.schemata"
            ).fetchall()
        }
    assert "staging" not in schemas


def test_a_reader_holding_the_old_file_keeps_a_consistent_view(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        _warehouse_with(conn, 2)
        publish(conn, target)
        reader = duckdb.connect(str(target), read_only=True)
        _warehouse_with(conn, 7)
        publish(conn, target)  # must not fail although a reader has the old file open
    try:
        assert reader.execute("select count(*) from ledger.trial_balance").fetchone() == (2,)
    finally:
        reader.close()
    with duckdb.connect(str(target), read_only=True) as fresh:
        assert fresh.execute("select count(*) from ledger.trial_balance").fetchone() == (7,)


def test_json_text_is_published_with_zstd_and_every_other_column_as_it_was(tmp_path):
    target = tmp_path / "analytics.duckdb"
    with duckdb.connect(str(tmp_path / "billing.duckdb")) as conn:
        conn.execute("create schema recon")
        conn.execute(
            "create table recon.matches as select 'm' || range as match_id, "
            "['a' || range] as left_refs, 10 * range as amount_minor, "
            '\'{"criteria": ["right.amount equals left.amount"], "n": \' || range || \'}\' '
            "as evidence from range(5000)"
        )
        publish(conn, target)
        expected = conn.execute("select * from recon.matches order by match_id").fetchall()
    with duckdb.connect(str(target), read_only=True) as reader:
        assert reader.execute("select * from recon.matches order by match_id").fetchall() == (
            expected
        )
        types = dict(
            reader.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_name = 'matches'"
            ).fetchall()
        )
        codecs = dict(
            reader.execute(
                "select column_name, any_value(compression) from pragma_storage_info("
                "'recon.matches') where segment_type = 'VARCHAR' group by column_name"
            ).fetchall()
        )
    assert types == {
        "match_id": "VARCHAR",
        "left_refs": "VARCHAR[]",
        "amount_minor": "BIGINT",
        "evidence": "VARCHAR",
    }
    assert codecs["evidence"] == "ZSTD"
    assert codecs["match_id"] != "ZSTD"
