"""Recompute the scoped part of the ledger (`ledger_scope`) in memory, from the full history.

What a scope determines, and from what:
- states and histories of the scoped aggregates: their refold;
- the entries of the dirty facts: their facts (acceptance and receivable split from the refold,
  or from the stored histories for aggregates outside the scope) and the rates;
- `fx.realized` entries of every open item a dirty entry touches (before or after): from all
  the item's lines, the stored ones of other facts plus the new ones;
- month-end revaluations: from every monetary balance, summed in SQL over the stored journal
  with the dirty entries swapped (cheap: one row per account and currency per month end).
`ledger.py` writes a delta in one transaction; the rebuild check compares one with what is
stored.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import duckdb
import polars as pl

from billing_pipeline.domain.fx import MONETARY_ACCOUNTS, RateBook
from billing_pipeline.domain.rounding import RoundingRule
from billing_pipeline.warehouse import fx_postings
from billing_pipeline.warehouse.journal import build_facts, post_entries, with_sources
from billing_pipeline.warehouse.ledger_resume import resume
from billing_pipeline.warehouse.lifecycles import Folded, fold_all

DERIVED = "fact_type like 'fx.%'"  # realized and revaluation entries: not a fact's own
REVALUATION_TYPES = "('fx.revaluation', 'fx.revaluation_reversal')"


@dataclass
class Delta:
    folded: Folded  # the scoped aggregates, refolded
    entries: pl.DataFrame  # the dirty facts' own lines (with lineage)
    problems: pl.DataFrame  # event_id, reason of the dirty facts
    items: pl.DataFrame  # fx_item: the open items whose realized entries were redone
    realized: pl.DataFrame  # all fx.realized lines of those items
    # Every revaluation line and its problems; None when not recomputed (`revalue`): the
    # stored ones stand until a later delta recomputes them.
    revaluation: pl.DataFrame | None
    revaluation_problems: pl.DataFrame | None


def compute_delta(
    conn: duckdb.DuckDBPyConnection,
    book: RateBook,
    functional: str,
    rule: RoundingRule,
    since_seq: int,
    upto_seq: int,
    revalue: bool = True,
) -> Delta:
    """The delta of the scope `ledger_scope` left in its temp tables; new events are those
    with seq in (since_seq, upto_seq]. Without `revalue`, the month-end revaluations are left
    as stored: they are a function of every balance, so a run in chunks recomputes them once,
    in its last chunk (`ledger.rebuild_ledger`)."""
    folded = fold_all(conn, scoped=True)
    resume(conn, folded, since_seq, upto_seq)
    facts = build_facts(conn, _with_stored_outcomes(conn, folded), events="ledger_fact_scope")
    dirty = conn.sql("select event_id from ledger_dirty_events").pl()
    facts = facts.join(dirty, on="event_id", how="semi")
    entries, problems = post_entries(facts, book, functional, rule)
    columns = _journal_columns(conn)
    entries = entries.select(columns)
    posted = [c for c in columns if c not in fx_postings.LINEAGE]
    # Realized FX is what foreign-currency lines leave in the functional currency
    # (`fx_postings.realized_lines`); a line in the functional currency never moves it. So the
    # items redone are those with a foreign line among the dirty facts' old or new lines, and
    # only their foreign lines are read back (half of the 1M sample world's journal).
    foreign = {"functional": functional}
    old_items = conn.sql(
        "select distinct fx_item from ledger_store.journal_lines "
        f"where not ({DERIVED}) and fx_item is not null and currency != $functional "
        "and event_id in (select event_id from ledger_dirty_events)",
        params=foreign,
    ).pl()
    foreign_entries = entries.filter(pl.col("currency") != functional)
    items = pl.concat([old_items, foreign_entries.select("fx_item").drop_nulls()]).unique()
    conn.register("ledger_delta_items", items.to_arrow())
    try:
        others = (
            conn.sql(
                f"select {', '.join(columns)} from ledger_store.journal_lines "
                f"where not ({DERIVED}) and currency != $functional "
                "and fx_item in (select fx_item from ledger_delta_items) "
                "and event_id not in (select event_id from ledger_dirty_events)",
                params=foreign,
            )
            .pl()
            .with_columns(pl.col("source_file").cast(fx_postings.SOURCE_FILE))
        )
    finally:
        conn.unregister("ledger_delta_items")
    on_items = pl.concat(
        [
            others,
            foreign_entries.filter(pl.col("fx_item").is_in(items["fx_item"].implode())),
        ],
        how="vertical_relaxed",
    )
    realized = fx_postings.realized_lines(on_items, functional, columns)
    if not revalue:
        return Delta(folded, entries, problems, items, realized, None, None)
    revaluation, revaluation_problems = _revaluation(
        conn, entries, realized, items, book, functional, rule, posted
    )
    return Delta(
        folded,
        entries,
        problems,
        items,
        realized,
        with_sources(conn, revaluation).select(columns),
        revaluation_problems,
    )


def _with_stored_outcomes(conn: duckdb.DuckDBPyConnection, folded: Folded) -> Folded:
    """The refold's accepted events and invoice effects, plus the stored ones of dirty events
    whose aggregates were not refolded (unchanged since they were written)."""
    accepted = conn.sql(
        "select event_id from ledger_store.payment_history "
        "where event_id in (select event_id from ledger_dirty_events) "
        "and payment_id not in (select key from ledger_scope_payments)"
    ).pl()
    effects = conn.sql(
        "select event_id, any_value(receivable_delta_minor) as receivable_delta_minor, "
        "any_value(customer_credit_delta_minor) as customer_credit_delta_minor "
        "from ledger_store.invoice_history "
        "where event_id in (select event_id from ledger_dirty_events) "
        "and invoice_id not in (select key from ledger_scope_invoices) group by event_id"
    ).pl()
    # Where the refold or resume has an effect of its own for an event, that one stands.
    refolded = pl.concat(
        [
            pl.Series(list(folded.invoice_effects), dtype=pl.Utf8),
            *(frame["event_id"] for frame in folded.invoice_effect_frames),
        ]
    )
    effects = effects.filter(~pl.col("event_id").is_in(refolded.implode()))
    return dataclasses.replace(
        folded,
        accepted_payment_frames=[*folded.accepted_payment_frames, accepted],
        invoice_effect_frames=[*folded.invoice_effect_frames, effects],
    )


def _journal_columns(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [
        row[0]
        for row in conn.execute(
            "select column_name from information_schema.columns "
            "where table_schema = 'ledger_store' and table_name = 'journal_lines' "
            "order by ordinal_position"
        ).fetchall()
    ]


def monetary_sql(column: str) -> str:
    """SQL twin of `fx_postings.is_monetary`."""
    return (
        "("
        + " or ".join(
            f"{column} = '{root}' or starts_with({column}, '{root}:')" for root in MONETARY_ACCOUNTS
        )
        + ")"
    )


def _revaluation(conn, entries, realized, items, book, functional, rule, posted):
    """Every month end's revaluation from the journal as it will be after this delta.

    The journal is summed once per account, currency and month (a few hundred rows), not
    copied: a copy of every line was one of the costs a chunk pays for the history.
    A line counts at a month end when its month ends on or before it, so each month end's
    balances are sums of whole months, and the last line by (date, fact, line) is the largest
    of the months' last lines."""
    keep = ["effective_date", "fact_id", "line_no", "account", "currency", "event_id",
            "debit_minor", "credit_minor", "functional_debit_minor", "functional_credit_minor",
            "fact_type"]  # fmt: skip
    fresh = pl.concat([entries.select(keep), realized.select(keep)])
    conn.register("ledger_delta_fresh", fresh.to_arrow())
    conn.register("ledger_delta_items", items.to_arrow())
    try:
        conn.execute(
            f"""
            create or replace temp table ledger_revaluation_months as
            with base as (
                select {", ".join(keep)} from ledger_store.journal_lines
                where fact_type not in {REVALUATION_TYPES}
                  and not (not ({DERIVED})
                           and event_id in (select event_id from ledger_dirty_events))
                  and not (fact_type = 'fx.realized' and fact_id in (
                      select fact_id from ledger_store.journal_lines
                      where fact_type = 'fx.realized'
                        and fx_item in (select fx_item from ledger_delta_items)))
                union all
                select * from ledger_delta_fresh
            )
            select account, currency, last_day(effective_date) as month_end,
                   min(effective_date) as first_date, max(effective_date) as last_date,
                   sum(debit_minor - credit_minor) as net,
                   sum(functional_debit_minor - functional_credit_minor) as functional_net,
                   max(struct_pack(d := effective_date, f := fact_id, l := line_no,
                                   e := event_id)) as last_line
            from base group by all
            """
        )
    finally:
        conn.unregister("ledger_delta_fresh")
        conn.unregister("ledger_delta_items")
    first, last = conn.execute(
        "select min(first_date), max(last_date) from ledger_revaluation_months"
    ).fetchall()[0]
    balances = []
    if first is not None:
        for month_end in fx_postings.month_ends(first, last):
            rows = conn.execute(
                f"""
                select account, currency, sum(net)::bigint, sum(functional_net)::bigint,
                       max(last_line).e
                from ledger_revaluation_months
                where currency != $functional and {monetary_sql("account")}
                  and month_end <= $month_end
                group by account, currency
                order by account, currency
                """,
                {"functional": functional, "month_end": month_end},
            ).fetchall()
            balances.append((month_end, rows))
    return fx_postings.revaluation_entries(balances, book, functional, rule, posted)
