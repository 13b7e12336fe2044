"""What the daily report shows, read from the published analyst file only.

Each section is a function of a read-only connection and the report date. A section whose
relations are not in the published file yet returns `NotPublished` naming them, so the report
works while parts of the contract (receivables.*, fx.*) are still being built.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

# The discrepancy age buckets reconciliation reports (recon/outputs.py metrics).
DISCREPANCY_AGE_BUCKETS = ("0", "1-3", "4-7", "8-30", "30+")
INVOICE_AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
CASH_AND_CLEARING = (
    "assets:bank:%",
    "assets:cash_in_transit",
    "assets:processor_clearing:%",
    "assets:suspense",
)


@dataclass(frozen=True)
class NotPublished:
    relations: tuple[str, ...]

    def __str__(self) -> str:
        return f"not published yet ({', '.join(self.relations)})"


@dataclass(frozen=True)
class Section:
    """Rows of one report table, with the date the rows describe (may differ from asked)."""

    columns: tuple[str, ...]
    rows: list[tuple]
    as_of: date | None = None
    note: str = ""
    functional_currency: str | None = None  # the currency of functional_* columns


def published_relations(conn: duckdb.DuckDBPyConnection) -> set[str]:
    rows = conn.execute(
        "select table_schema || '.' || table_name from information_schema.tables"
    ).fetchall()
    return {r[0] for r in rows}


def _missing(conn, *relations: str) -> NotPublished | None:
    absent = tuple(r for r in relations if r not in published_relations(conn))
    return NotPublished(absent) if absent else None


def columns_of(conn, relation: str) -> set[str]:
    schema, table = relation.split(".")
    rows = conn.execute(
        "select column_name from information_schema.columns "
        "where table_schema = ? and table_name = ?",
        [schema, table],
    ).fetchall()
    return {r[0] for r in rows}


def recon_as_of(conn: duckdb.DuckDBPyConnection) -> date | None:
    """The run date of the reconciliation slice the published recon.* relations hold."""
    if _missing(conn, "recon.matches", "recon.discrepancies"):
        return None
    row = conn.execute(
        "select max(as_of) from (select as_of from recon.matches "
        "union all select as_of from recon.discrepancies)"
    ).fetchone()
    return row[0] if row else None


def match_rates(conn: duckdb.DuckDBPyConnection, day: date) -> Section | NotPublished:
    """Per leg: matches, items still pending in their window, open discrepancies, match rate.

    The rate is matches / (matches + pending + open): a published file carries matches and
    discrepancies, not reconciliation's own item counts."""
    missing = _missing(conn, "recon.matches", "recon.discrepancies")
    if missing:
        return missing
    rows = conn.execute(
        """
        with m as (select leg, count(*) as matched from recon.matches group by leg),
        d as (
            select leg, count(*) filter (status = 'pending') as pending,
                   count(*) filter (status = 'open') as open
            from recon.discrepancies group by leg
        )
        select leg, coalesce(matched, 0), coalesce(pending, 0), coalesce(open, 0)
        from m full join d using (leg) order by leg
        """
    ).fetchall()
    out = []
    for leg, matched, pending, open_ in rows:
        total = matched + pending + open_
        rate = f"{100 * matched / total:.1f}%" if total else "n/a"
        out.append((leg, matched, pending, open_, rate))
    return Section(
        ("leg", "matched", "pending", "open", "match rate"),
        out,
        as_of=recon_as_of(conn),
        note=_as_of_note(recon_as_of(conn), day),
    )


def open_discrepancies(conn: duckdb.DuckDBPyConnection, day: date) -> Section | NotPublished:
    """Open discrepancies by type and age bucket: counts and amounts per currency."""
    missing = _missing(conn, "recon.discrepancies")
    if missing:
        return missing
    bucket = _bucket_sql("age_days", DISCREPANCY_AGE_BUCKETS)
    rows = conn.execute(
        f"""
        with open_items as (
            select type, {bucket} as age_bucket, currency, amount_minor
            from recon.discrepancies where status = 'open'
        )
        select type, age_bucket, currency, count(*) as items, sum(amount_minor) as amount_minor
        from open_items
        group by type, age_bucket, currency
        order by type, list_position({_sql_list(DISCREPANCY_AGE_BUCKETS)}, age_bucket), currency
        """
    ).fetchall()
    as_of = recon_as_of(conn)
    return Section(
        ("type", "age (days)", "currency", "items", "amount_minor"),
        rows,
        as_of=as_of,
        note=_as_of_note(as_of, day),
    )


def funnel(conn: duckdb.DuckDBPyConnection) -> Section | NotPublished:
    """Matched, pending and discrepant item counts per leg (the reconciliation funnel)."""
    rates = match_rates(conn, date.max)
    if isinstance(rates, NotPublished):
        return rates
    return Section(("leg", "matched", "pending", "open"), [r[:4] for r in rates.rows], rates.as_of)


def invoice_aging(conn: duckdb.DuckDBPyConnection, day: date) -> Section | NotPublished:
    """Amount due per aging bucket and currency on the report date."""
    missing = _missing(conn, "receivables.invoice_aging")
    if missing:
        return missing
    rows = conn.execute(
        f"""
        select bucket, currency, count(*) as invoices, sum(amount_due_minor) as amount_due_minor
        from receivables.invoice_aging
        where as_of_date = ? and amount_due_minor != 0
        group by bucket, currency
        order by list_position({_sql_list(INVOICE_AGING_BUCKETS)}, bucket), currency
        """,
        [day],
    ).fetchall()
    return Section(("bucket", "currency", "invoices", "amount_due_minor"), rows, as_of=day)


def cash_and_clearing(conn: duckdb.DuckDBPyConnection, day: date) -> Section | NotPublished:
    """Bank, cash-in-transit, processor clearing and suspense balances at the end of the day."""
    missing = _missing(conn, "ledger.account_balances_daily")
    if missing:
        return missing
    like = " or ".join("account like ?" for _ in CASH_AND_CLEARING)
    # Balances are listed on every date from an account's first movement: take each
    # account's latest row on or before the report date.
    rows = conn.execute(
        f"""
        select account, currency, balance_minor, functional_balance_minor
        from ledger.account_balances_daily
        where as_of_date <= ? and ({like})
        qualify row_number() over (partition by account, currency order by as_of_date desc) = 1
        order by account, currency
        """,
        [day, *CASH_AND_CLEARING],
    ).fetchall()
    return Section(
        ("account", "currency", "balance_minor", "functional_balance_minor"),
        rows,
        as_of=day,
        functional_currency=_functional_currency(conn),
    )


def fx_exposure(conn: duckdb.DuckDBPyConnection, day: date) -> Section | NotPublished:
    missing = _missing(conn, "fx.exposure")
    if missing:
        return missing
    wanted = ("currency", "open_amount_minor", "functional_amount_minor")
    present = columns_of(conn, "fx.exposure")
    if "as_of_date" not in present or not set(wanted) <= present:
        return NotPublished(("fx.exposure with " + ", ".join(("as_of_date", *wanted)),))
    rows = conn.execute(
        "select currency, sum(open_amount_minor), sum(functional_amount_minor) "
        "from fx.exposure where as_of_date = ? group by all order by currency",
        [day],
    ).fetchall()
    return Section(wanted, rows, as_of=day, functional_currency=_functional_currency(conn))


def _functional_currency(conn) -> str | None:
    if _missing(conn, "ledger.journal_lines"):
        return None
    row = conn.execute("select any_value(functional_currency) from ledger.journal_lines").fetchone()
    return row[0] if row else None


def _sql_list(values: tuple[str, ...]) -> str:
    """A list literal of our own constant labels (ORDER BY cannot take a bound list here)."""
    return "[" + ", ".join(f"'{v}'" for v in values) + "]"


def _bucket_sql(column: str, buckets: tuple[str, ...]) -> str:
    # Mirrors reconciliation's own bucketing: 0, 1-3, 4-7, 8-30, 30+.
    assert buckets == DISCREPANCY_AGE_BUCKETS
    return (
        f"case when {column} <= 0 then '0' when {column} <= 3 then '1-3' "
        f"when {column} <= 7 then '4-7' when {column} <= 30 then '8-30' else '30+' end"
    )


def _as_of_note(as_of: date | None, day: date) -> str:
    if as_of is None or as_of == day or day == date.max:
        return ""
    return f"the published reconciliation is as of {as_of}, not {day}"
