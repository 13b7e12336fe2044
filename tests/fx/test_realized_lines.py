"""`fx_postings.realized_lines` computes items and segments as runs of sorted rows: it must
realize exactly what walking each item's days in order realizes, however items interleave,
close, reopen and share days."""

from __future__ import annotations

from collections import defaultdict
from datetime import date, timedelta

import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from billing_pipeline.domain import accounts
from billing_pipeline.warehouse.fx_postings import realized_lines

COLUMNS = ["fact_id", "fact_type", "line_no", "account", "currency", "debit_minor",
           "credit_minor", "rules_version", "event_id", "effective_date",
           "functional_debit_minor", "functional_credit_minor", "rate", "rate_date",
           "rate_source", "functional_currency", "fx_item"]  # fmt: skip
TEXT, DAY, INT = pl.Utf8, pl.Date, pl.Int64
SCHEMA = dict(zip(COLUMNS, [TEXT, TEXT, INT, TEXT, TEXT, INT, INT, TEXT, TEXT, DAY, INT, INT,
                            TEXT, DAY, TEXT, TEXT, TEXT], strict=True))  # fmt: skip
ACCOUNTS = [accounts.RECEIVABLES, f"{accounts.PROCESSOR_CLEARING}:stripe", accounts.REVENUE]
START = date(2026, 1, 1)

# Small amounts so that items close (running net back to zero) often.
line = st.tuples(
    st.sampled_from(ACCOUNTS),
    st.sampled_from(["EUR", "GBP", "USD"]),
    st.sampled_from(["invoice:a", "invoice:b", "charge:x", None]),
    st.integers(0, 6),  # day
    st.integers(-3, 3),  # net in the line's currency
    st.integers(-500, 500),  # net in the functional currency
)


def _frame(rows) -> pl.DataFrame:
    records = []
    for n, (account, currency, item, day, net, functional_net) in enumerate(rows):
        records.append(
            {
                "fact_id": f"f{n:04}",
                "fact_type": "payment.captured",
                "line_no": 1 + n % 3,
                "account": account,
                "currency": currency,
                "debit_minor": max(net, 0),
                "credit_minor": max(-net, 0),
                "rules_version": "r",
                "event_id": f"e{n:04}",
                "effective_date": START + timedelta(days=day),
                "functional_debit_minor": max(functional_net, 0),
                "functional_credit_minor": max(-functional_net, 0),
                "rate": f"1.{n}",
                "rate_date": START + timedelta(days=day),
                "rate_source": "ecb",
                "functional_currency": "USD",
                "fx_item": item,
            }
        )
    return pl.DataFrame(records, schema=SCHEMA)


def _walked(frame: pl.DataFrame) -> dict[tuple, tuple[int, str, str]]:
    """(account, currency, item, day) -> (delta booked on the account, event, rate): per item,
    its days in order; a day that brings the item's net back to zero realizes what the
    functional amounts left since the last such day."""
    days: dict[tuple, dict[date, list]] = defaultdict(lambda: defaultdict(list))
    for row in frame.sort("effective_date", "fact_id", "line_no").iter_rows(named=True):
        monetary = row["account"] != accounts.REVENUE
        if row["fx_item"] is None or row["currency"] == "USD" or not monetary:
            continue
        key = (row["account"], row["currency"], row["fx_item"])
        days[key][row["effective_date"]].append(row)
    realized = {}
    for key, by_day in days.items():
        net = residue = 0
        for day in sorted(by_day):
            rows = by_day[day]
            net += sum(r["debit_minor"] - r["credit_minor"] for r in rows)
            residue += sum(r["functional_debit_minor"] - r["functional_credit_minor"] for r in rows)
            if net == 0:
                if residue:
                    realized[(*key, day)] = (-residue, rows[-1]["event_id"], rows[-1]["rate"])
                residue = 0
    return realized


@settings(max_examples=150, deadline=None)
@given(st.lists(line, max_size=40))
def test_realized_lines_realize_what_walking_each_items_days_in_order_realizes(rows):
    frame = _frame(rows)
    lines = realized_lines(frame, "USD", COLUMNS)
    on_account = lines.filter(pl.col("account") != accounts.FX_GAIN_LOSS)
    got = {
        (r["account"], r["currency"], r["fx_item"], r["effective_date"]): (
            r["functional_debit_minor"] - r["functional_credit_minor"],
            r["event_id"],
            r["rate"],
        )
        for r in on_account.iter_rows(named=True)
    }
    assert got == _walked(frame)
    # Each realized entry balances in the functional currency, against fx gain/loss.
    assert (
        lines.select(
            (pl.col("functional_debit_minor") - pl.col("functional_credit_minor")).sum()
        ).item()
        == 0
    )
