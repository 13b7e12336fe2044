"""An incremental run sums month-end balances in SQL (`ledger_delta._revaluation`); the result
must be the revaluation `fx_postings.revaluation_lines` posts from the same lines in memory.

Lines span three months, so a month end's balance sums more than one month of lines and its
last line may lie in an earlier month. Some stored lines belong to dirty events (the delta
replaces them: they must not count) and some lines are fresh (the delta's own)."""

from datetime import date, timedelta

import duckdb
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain.fx import RateBook
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import fx_postings
from billing_pipeline.warehouse.ledger import ensure_ledger
from billing_pipeline.warehouse.ledger_delta import _journal_columns, _revaluation

FIRST = date(2026, 8, 20)
BOOK = RateBook.from_ecb()
ACCOUNTS = ["assets:bank:acc_1", "assets:receivables", "liabilities:customer_credit",
            "income:revenue"]  # fmt: skip

line = st.fixed_dictionaries(
    {
        "day": st.integers(0, 75),  # 2026-08-20 .. 2026-11-03: month ends Aug, Sep, Oct
        "account": st.sampled_from(ACCOUNTS),
        "currency": st.sampled_from(["USD", "EUR", "JPY", "GBP"]),
        "debit": st.integers(0, 10**9),
        "credit": st.integers(0, 10**9),
        "functional": st.integers(-(10**9), 10**9),
        "event": st.integers(0, 5),
        "place": st.sampled_from(["stored", "stored", "dirty", "fresh"]),
    }
)


def _frame(lines: list[dict], columns: list[str]) -> pl.DataFrame:
    rows = [
        {
            "fact_id": f"fact_{index:03d}",
            "fact_type": "payment.captured",
            "line_no": 1,
            "account": item["account"],
            "currency": item["currency"],
            "debit_minor": item["debit"],
            "credit_minor": item["credit"],
            "rules_version": "test",
            "event_id": f"evt_{item['event']}" if item["place"] != "dirty" else "evt_dirty",
            "effective_date": FIRST + timedelta(days=item["day"]),
            "functional_debit_minor": max(item["functional"], 0),
            "functional_credit_minor": max(-item["functional"], 0),
            "rate": "1",
            "rate_date": FIRST,
            "rate_source": "test",
            "functional_currency": "USD",
            "partition_date": None,
            "source_line": None,
            "source_file": None,
            "fx_item": None,
        }
        for index, item in enumerate(lines)
    ]
    schema = {**fx_postings._JOURNAL_DTYPES, "partition_date": pl.Date,
              "source_line": pl.Int64, "source_file": pl.Utf8}  # fmt: skip
    return pl.DataFrame(rows, schema=schema).select(columns)


@settings(max_examples=40, deadline=None)
@given(lines=st.lists(line, min_size=1, max_size=30))
def test_month_end_balances_summed_in_sql_revalue_like_the_lines_in_memory(lines):
    conn = duckdb.connect()
    ensure_ledger(conn)
    columns = _journal_columns(conn)
    frame = _frame(lines, columns)
    places = pl.Series([item["place"] for item in lines])
    conn.register("stored", frame.filter(places != "fresh").to_arrow())
    conn.execute("insert into ledger_store.journal_lines select * from stored")
    conn.execute("create temp table ledger_dirty_events as select 'evt_dirty' as event_id")
    fresh = frame.filter(places == "fresh")
    posted = [c for c in columns if c not in ("partition_date", "source_line", "source_file")]
    no_items = pl.DataFrame({"fx_item": []}, schema={"fx_item": pl.Utf8})
    in_sql, sql_problems = _revaluation(
        conn, fresh, fresh.clear(), no_items, BOOK, "USD", RoundingRule.HALF_EVEN, posted
    )
    after = frame.filter(places != "dirty").select(posted)
    in_memory, memory_problems = fx_postings.revaluation_lines(
        after, BOOK, "USD", RoundingRule.HALF_EVEN
    )
    order = ["fact_id", "line_no"]
    assert in_sql.select(posted).sort(order).equals(in_memory.select(posted).sort(order))
    assert sorted(sql_problems.rows()) == sorted(memory_problems.rows())
