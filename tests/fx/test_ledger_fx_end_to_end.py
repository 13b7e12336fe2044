"""FX through the whole ledger of a generated world that crosses a month end (conftest)."""

from __future__ import annotations

import csv
from datetime import date, timedelta
from decimal import Decimal

import polars as pl
import pytest

from billing_pipeline.domain.fx import MONETARY_ACCOUNTS
from billing_pipeline.domain.rounding import convert_minor
from billing_pipeline.warehouse import audits
from billing_pipeline.warehouse.fx_items import with_items
from billing_pipeline.warehouse.journal import build_facts, post_and_convert
from billing_pipeline.warehouse.ledger import journal_rebuilds_identically, rate_book
from billing_pipeline.warehouse.lifecycles import fold_all

from .conftest import END, START

MONTH_END = date(2026, 10, 31)
NET = pl.col("debit_minor") - pl.col("credit_minor")
FUNCTIONAL_NET = pl.col("functional_debit_minor") - pl.col("functional_credit_minor")


def _truth(truth, name):
    with (truth / f"{name}.csv").open(encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def itemized(fx_world):
    """Journal lines with their open item; realized lines carry the item they closed."""
    conn, _, _ = fx_world
    facts = build_facts(conn, fold_all(conn))
    book, _ = rate_book(conn)
    lines, _ = post_and_convert(conn, facts, book, "USD", "half_even")
    lines = with_items(lines, facts)
    prefix = pl.format("fx.realized:{}:{}:", "account", "currency")
    closed = (
        pl.col("fact_id").str.slice(prefix.str.len_chars()).str.replace(r":\d{4}-\d{2}-\d{2}$", "")
    )
    realized = (pl.col("fact_type") == "fx.realized") & (pl.col("account") != "income:fx_gain_loss")
    return lines.with_columns(fx_item=pl.when(realized).then(closed).otherwise(pl.col("fx_item")))


def item_balances(itemized, account_prefix):
    return (
        itemized.filter(pl.col("account").str.starts_with(account_prefix))
        .group_by("account", "currency", "fx_item")
        .agg(net=NET.sum(), functional=FUNCTIONAL_NET.sum())
    )


def test_ledger_is_balanced_rebuilds_identically_and_has_no_orphans(fx_world):
    conn, _, report = fx_world
    assert report.unposted_facts == 0
    assert audits.unbalanced_entries(conn) == []
    assert audits.trial_balance_offsets(conn) == []
    assert audits.orphan_lines(conn) == []
    assert journal_rebuilds_identically(conn, "USD", "half_even")


def test_trial_balance_is_zero_in_functional_and_per_currency_on_every_day(fx_world):
    conn, _, _ = fx_world
    rows = conn.execute(
        """
        with daily as (
            select effective_date, currency, sum(debit_minor - credit_minor) as net,
                   sum(functional_debit_minor - functional_credit_minor) as functional
            from ledger_store.journal_lines group by all
        )
        select d.day, sum(net), sum(functional),
               max(abs(per_currency)) from (
            select day, currency, sum(net) as net, sum(functional) as functional,
                   sum(net) as per_currency
            from (select distinct effective_date as day from daily) d
            join daily on daily.effective_date <= d.day group by all
        ) d group by d.day order by d.day
        """
    ).fetchall()
    assert len(rows) >= (END - START).days + 1
    assert all(net == 0 and functional == 0 and worst == 0 for _, net, functional, worst in rows)


def test_processor_clearing_nets_to_zero_per_currency_for_every_settled_payout(fx_world, itemized):
    conn, truth, _ = fx_world
    orphans = {
        a["reference"] for a in _truth(truth, "anomalies") if a["kind"] == "orphan_settlement_line"
    }
    orphan_payouts = {
        p for (p,) in conn.execute(
            "select payload->>'payout_ref' from store.events where event_type like 'settlement.%' "
            "and payload->>'line_ref' in (select unnest(?))", [sorted(orphans)]
        ).fetchall()
    }  # fmt: skip
    sent = {r for (r,) in conn.execute("select payload->>'payout_ref' from store.events "
                                       "where event_type = 'payout.sent'").fetchall()}  # fmt: skip
    payouts = [
        p for p in _truth(truth, "payouts") if int(p["lines"]) > 0 and p["payout_ref"] in sent
    ]
    balances = item_balances(itemized, "assets:processor_clearing:")
    by_item = {(r["fx_item"], r["currency"]): r for r in balances.iter_rows(named=True)}
    checked = 0
    for payout in payouts:
        if payout["payout_ref"] in orphan_payouts:
            continue
        row = by_item[(f"payout:{payout['processor']}:{payout['payout_ref']}", payout["currency"])]
        assert (row["net"], row["functional"]) == (0, 0), payout
        checked += 1
    assert checked >= len(payouts) - len(orphan_payouts) > 10
    # Every converted charge whose settlement line arrived left its charge currency for good.
    charges = balances.filter(pl.col("fx_item").str.starts_with("charge:"))
    settled = charges.filter(pl.col("net") == 0)
    assert settled.height > 10 and (settled["functional"] == 0).all()
    # ... and only charge currencies other than the settlement currency are converted.
    assert set(charges["currency"]) <= {"JPY", "KWD"}


def test_paid_foreign_invoices_leave_receivables_at_zero_in_functional(fx_world, itemized):
    _, truth, _ = fx_world
    paid = [i for i in _truth(truth, "invoices") if i["state"] == "paid" and i["currency"] != "USD"]
    assert len(paid) >= 3
    balances = item_balances(itemized, "assets:receivables")
    by_item = {r["fx_item"]: r for r in balances.iter_rows(named=True)}
    for invoice in paid:
        row = by_item[f"invoice:{invoice['invoice_id']}"]
        assert (row["net"], row["functional"]) == (0, 0), invoice


def test_month_end_revalues_every_foreign_monetary_balance_and_reverses_next_day(fx_world):
    conn, _, _ = fx_world
    book, _ = rate_book(conn)
    lines = conn.sql("select * from ledger_store.journal_lines").pl()
    monetary = pl.any_horizontal(
        (pl.col("account") == a) | pl.col("account").str.starts_with(a + ":")
        for a in MONETARY_ACCOUNTS
    )
    foreign = lines.filter(monetary & (pl.col("currency") != "USD"))

    def as_of(day):
        return (
            foreign.filter(pl.col("effective_date") <= day)
            .group_by("account", "currency")
            .agg(net=NET.sum(), functional=FUNCTIONAL_NET.sum())
        )

    at_month_end = as_of(MONTH_END)
    assert at_month_end.height >= 8
    for account, currency, net, functional in at_month_end.iter_rows():
        rate = book.rate(MONTH_END, currency, "USD").rate
        assert functional == convert_minor(net, currency, "USD", rate), (account, currency)
    # The next day the reversal brings each balance back to its booked functional amount.
    next_day = MONTH_END + timedelta(days=1)
    booked = foreign.filter(~pl.col("fact_type").str.starts_with("fx.revaluation"))
    reverted = (
        booked.filter(pl.col("effective_date") <= next_day)
        .group_by("account", "currency")
        .agg(functional=FUNCTIONAL_NET.sum())
    )
    assert dict(
        as_of(next_day).select(pl.concat_str("account", "currency"), "functional").rows()
    ) == dict(reverted.select(pl.concat_str("account", "currency"), "functional").rows())
    revaluations = lines.filter(pl.col("fact_type") == "fx.revaluation")
    assert set(revaluations["effective_date"]) == {MONTH_END}
    assert isinstance(Decimal(revaluations["rate"][0]), Decimal)
