"""Reference arms for the reconciliation stage: lean DuckDB SQL and a plain pandas script.

Both arms reconcile the same staged rows (raw.* of billing.duckdb, every partition up to the
run date, as the recon stage does) with the same simple rules, so their counts and sums must
agree before their timings mean anything:

* leg 1 (ledger <-> processor): a payment event (capture, refund, dispute opened/won) and a
  settlement line with the same processor, charge reference, kind, charge currency and
  signed amount, the line dated from 1 day before to 7 days after the event; one-to-one
  (a pair counts only if neither side has a second candidate);
* leg 2 (payout <-> bank): the payout's trace/reference in the bank text (ignoring case and
  spaces) with the same currency and amount; then, for what is left, the same currency and
  amount booked 0-6 days after the payout; one-to-one.

The pipeline's own recon does more (lifecycle legality, tolerances, ambiguity, discrepancies,
decisions, leg 3), so its counts are reported beside these, not required to equal them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import date

import duckdb

KINDS = {
    "payment.captured": "charge",
    "payment.refunded": "refund",
    "payment.dispute_opened": "chargeback",
    "payment.dispute_won": "chargeback_reversal",
}
_KIND_CASE = " ".join(f"when '{t}' then '{k}'" for t, k in KINDS.items())
_TYPES = ", ".join(f"'{t}'" for t in KINDS)

# The arms' inputs, identical for both: first occurrence of each event id / line / payout.
EVENTS_SQL = f"""
select event_id as key, processor, processor_ref, case type {_KIND_CASE} end as kind,
       amount_minor, currency, occurred_at::date as day
from raw.billing_events
where partition_date <= $as_of and type in ({_TYPES})
  and processor is not null and processor != 'bank_transfer'
qualify row_number() over (partition by event_id order by partition_date, source_line) = 1
"""
LINES_SQL = """
select processor || ':' || line_ref as key, processor, processor_ref, line_type as kind,
       case when line_type in ('refund', 'chargeback') then -1 else 1 end
           * coalesce(original_minor, gross_minor) as amount_minor,
       coalesce(original_currency, currency) as currency, occurred_at::date as day
from (select * from raw.stripe_settlement_lines union all by name
      select * from raw.adyen_settlement_lines)
where partition_date <= $as_of
  and line_type in ('charge', 'refund', 'chargeback', 'chargeback_reversal')
qualify row_number() over (
    partition by processor, line_ref order by partition_date, source_line) = 1
"""
PAYOUTS_SQL = """
select processor || ':' || payout_ref as key, payout_ref, bank_reference, currency,
       amount_minor, created_at::date as day
from (select * from raw.stripe_payouts union all by name select * from raw.adyen_payouts)
where partition_date <= $as_of
qualify row_number() over (partition by processor, payout_ref order by partition_date) = 1
"""
BANK_SQL = """
select account_id || ':' || coalesce(entry_ref, '') || ':' || source_line || ':' || file_id
           as key, currency, amount_minor, booking_date as day,
       upper(replace(coalesce(remittance_info, ''), ' ', '')) as text
from raw.bank_lines
where partition_date <= $as_of
"""

LEAN_SQL = f"""
create or replace temp table arm_events as {EVENTS_SQL};
create or replace temp table arm_lines as {LINES_SQL};
create or replace temp table arm_leg1 as
select e.key as lkey, l.key as rkey, e.amount_minor
from arm_events e join arm_lines l
  using (processor, processor_ref, kind, currency, amount_minor)
where l.day between e.day - 1 and e.day + 7
qualify count(*) over (partition by e.key) = 1 and count(*) over (partition by l.key) = 1;
create or replace temp table arm_payouts as {PAYOUTS_SQL};
create or replace temp table arm_bank as {BANK_SQL};
create or replace temp table arm_leg2_ref as
select p.key as lkey, b.key as rkey, p.amount_minor
from arm_payouts p join arm_bank b using (currency, amount_minor)
where contains(b.text, upper(replace(p.bank_reference, ' ', '')))
   or contains(b.text, upper(replace(p.payout_ref, ' ', '')))
qualify count(*) over (partition by p.key) = 1 and count(*) over (partition by b.key) = 1;
create or replace temp table arm_leg2_amount as
select p.key as lkey, b.key as rkey, p.amount_minor
from (select * from arm_payouts anti join arm_leg2_ref on key = lkey) p
join (select * from arm_bank anti join arm_leg2_ref on key = rkey) b using (currency, amount_minor)
where b.day between p.day and p.day + 6
qualify count(*) over (partition by p.key) = 1 and count(*) over (partition by b.key) = 1;
"""


@dataclass(frozen=True)
class ArmResult:
    name: str
    seconds: float  # matching, inputs already in memory for pandas
    load_seconds: float  # pandas only: reading the staged rows into DataFrames
    leg1: tuple[int, int]  # (matches, sum of amounts)
    leg2_reference: tuple[int, int]
    leg2_amount_date: tuple[int, int]

    def totals(self) -> tuple:
        return (self.leg1, self.leg2_reference, self.leg2_amount_date)


def _count_sum(conn, table: str) -> tuple[int, int]:
    n, total = conn.execute(
        f"select count(*), coalesce(sum(amount_minor), 0) from {table}"
    ).fetchall()[0]
    return int(n), int(total)


def lean_sql(conn: duckdb.DuckDBPyConnection, as_of: date) -> ArmResult:
    begin = time.perf_counter()
    for statement in filter(str.strip, LEAN_SQL.split(";")):
        params = {"as_of": as_of} if "$as_of" in statement else None
        conn.execute(statement, params)
    seconds = time.perf_counter() - begin
    return ArmResult(
        "lean_sql",
        seconds,
        0.0,
        _count_sum(conn, "arm_leg1"),
        _count_sum(conn, "arm_leg2_ref"),
        _count_sum(conn, "arm_leg2_amount"),
    )


def pandas_script(conn: duckdb.DuckDBPyConnection, as_of: date) -> ArmResult:
    import pandas as pd

    begin = time.perf_counter()
    frames = {
        name: _pandas(conn, sql, as_of)
        for name, sql in (
            ("events", EVENTS_SQL), ("lines", LINES_SQL),
            ("payouts", PAYOUTS_SQL), ("bank", BANK_SQL),
        )
    }  # fmt: skip
    loaded = time.perf_counter()
    events, lines = frames["events"], frames["lines"]
    pairs = events.merge(
        lines, on=["processor", "processor_ref", "kind", "currency", "amount_minor"],
        suffixes=("_l", "_r"),
    )  # fmt: skip
    delta = (pairs["day_r"] - pairs["day_l"]).dt.days
    pairs = pairs[(delta >= -1) & (delta <= 7)]
    leg1 = _one_to_one(pairs)

    payouts, bank = frames["payouts"], frames["bank"]
    ref = payouts.merge(bank, on=["currency", "amount_minor"], suffixes=("_l", "_r"))
    bank_ref = ref["bank_reference"].str.replace(" ", "").str.upper()
    payout_ref = ref["payout_ref"].str.replace(" ", "").str.upper()
    found = [
        a in text or b in text for a, b, text in zip(bank_ref, payout_ref, ref["text"], strict=True)
    ]
    leg2_ref = _one_to_one(ref[pd.Series(found, index=ref.index, dtype=bool)])

    left = payouts[~payouts["key"].isin(leg2_ref["key_l"])]
    right = bank[~bank["key"].isin(leg2_ref["key_r"])]
    near = left.merge(right, on=["currency", "amount_minor"], suffixes=("_l", "_r"))
    delta = (near["day_r"] - near["day_l"]).dt.days
    leg2_amount = _one_to_one(near[(delta >= 0) & (delta <= 6)])
    done = time.perf_counter()
    return ArmResult(
        "pandas",
        done - loaded,
        loaded - begin,
        _frame_count_sum(leg1),
        _frame_count_sum(leg2_ref),
        _frame_count_sum(leg2_amount),
    )


def _pandas(conn, sql: str, as_of: date):
    table = conn.sql(sql, params={"as_of": as_of}).to_arrow_table()
    return table.to_pandas(date_as_object=False)


def _one_to_one(pairs):
    left_once = pairs.groupby("key_l")["key_r"].transform("size") == 1
    right_once = pairs.groupby("key_r")["key_l"].transform("size") == 1
    return pairs[left_once & right_once]


def _frame_count_sum(frame) -> tuple[int, int]:
    return len(frame), int(frame["amount_minor"].sum())
