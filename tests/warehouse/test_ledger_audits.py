"""The ledger's blocking audits report exactly the entries that break an invariant."""

from collections import defaultdict
from datetime import date

import duckdb
from hypothesis import example, given, settings
from hypothesis import strategies as st

from billing_pipeline.warehouse import audits
from billing_pipeline.warehouse.ledger import LEDGER_DDL
from tests.support import insert_journal_lines

# (fact, currency, debit, credit, functional debit, functional credit): small values, few
# facts and currencies, so that balanced and unbalanced entries both come up often.
_LINE = st.tuples(
    st.sampled_from(["f1", "f2", "f3", "f4"]),
    st.sampled_from(["EUR", "USD", "JPY"]),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
    st.integers(0, 3),
)


def _journal(lines) -> duckdb.DuckDBPyConnection:
    conn = duckdb.connect()
    conn.execute(LEDGER_DDL)
    insert_journal_lines(
        conn,
        [
            dict(fact_id=fact, line_no=n, account="assets:x", currency=currency,
                 debit_minor=debit, credit_minor=credit, effective_date=date(2026, 10, 5),
                 functional_debit_minor=f_debit, functional_credit_minor=f_credit)
            for n, (fact, currency, debit, credit, f_debit, f_credit) in enumerate(lines)
        ],
    )  # fmt: skip
    return conn


@settings(max_examples=60, deadline=None)
@given(st.lists(_LINE, max_size=12))
# Balanced in total and in functional, off in each of its two currencies.
@example([("f1", "EUR", 1, 0, 0, 0), ("f1", "USD", 0, 1, 0, 0)])
def test_unbalanced_entries_are_those_off_in_a_currency_or_in_functional_or_with_one_line(lines):
    per_currency, functional, count = defaultdict(int), defaultdict(int), defaultdict(int)
    for fact, currency, debit, credit, f_debit, f_credit in lines:
        per_currency[fact, currency] += debit - credit
        functional[fact] += f_debit - f_credit
        count[fact] += 1
    expected = {
        fact: (max(abs(v) for (f, _), v in per_currency.items() if f == fact), functional[fact])
        for fact in count
        if any(v for (f, _), v in per_currency.items() if f == fact)
        or functional[fact]
        or count[fact] < 2
    }

    found = audits.unbalanced_entries(_journal(lines), limit=10)

    assert {
        row["entry_id"]: (row["max_currency_imbalance"], row["functional_imbalance"])
        for row in found
    } == expected
    assert all(row["lines"] == count[row["entry_id"]] for row in found)
