"""What each leg makes of its matches and leftovers: discrepancies, and leg 3's cash allocation.

All of it is SQL over the work tables of `matcher` and the item tables of `sources`. A
discrepancy row here has no status or age yet (see `discrepancies`), only the date from which
its window runs (`expected_date`) and whether that window has passed as of the run date.
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.recon.matcher import execute
from billing_pipeline.recon.rules import RuleSet, Tolerance

WORK_DDL = """
create or replace temp table recon_work_discrepancies (
    leg varchar, type varchar, reference varchar, amount_minor bigint, currency varchar,
    window_open boolean, candidates varchar[], detail varchar);
"""

# One (credit, invoice) row per leg-3 match; a credit naming several invoices is split over
# them in invoice-number order, each capped at what it still owed before any transfer; each
# invoice then takes its credits in booking order up to what it owes. The rest is overpaid.
ALLOCATIONS = """
create or replace temp table recon_allocations as
with pairs as (
    select m.left_refs[1] as credit_key, unnest(m.right_refs) as invoice_id
    from recon_work_matches m where m.leg = 'bank_invoice'
),
joined as (
    select p.credit_key, p.invoice_id, b.amount_minor as credit_minor, b.business_date,
           b.account_id, b.currency, greatest(i.due_minor, 0) as due_minor,
           row_number() over (partition by p.credit_key order by i.invoice_number, i.invoice_id)
               as pos,
           count(*) over (partition by p.credit_key) as n_invoices
    from pairs p join recon_bank_lines b on b.key = p.credit_key
    join recon_invoices i on i.key = p.invoice_id
),
offered as (
    select *, greatest(0, least(due_minor, credit_minor - coalesce(sum(due_minor) over (
        partition by credit_key order by pos rows between unbounded preceding and 1 preceding),
        0))) as offered_minor
    from joined
),
applied as (
    select *, greatest(0, least(offered_minor, due_minor - coalesce(sum(offered_minor) over (
        partition by invoice_id order by business_date, credit_key
        rows between unbounded preceding and 1 preceding), 0))) as applied_minor
    from offered
)
select credit_key, invoice_id, account_id, currency, business_date, pos, n_invoices,
       credit_minor, applied_minor,
       case when pos = n_invoices
            then credit_minor - sum(applied_minor) over (partition by credit_key) else 0
       end as overpaid_minor
from applied
"""

RIGHT_BANK_INVOICE = """
create or replace temp view recon_right_bank_invoice as
select i.*, i.due_minor - coalesce(a.applied_minor, 0) as open_minor
from recon_invoices i
left join (select invoice_id, sum(applied_minor) as applied_minor from recon_allocations
           group by invoice_id) a on a.invoice_id = i.key
"""


def prepare(conn: duckdb.DuckDBPyConnection) -> None:
    execute(conn, WORK_DDL)
    execute(
        conn,
        "create or replace temp view recon_right_processor_bank as select * from recon_bank_lines",
    )
    execute(
        conn,
        "create or replace temp view recon_left_bank_invoice as "
        "select *, null::varchar as customer_id from recon_bank_lines where amount_minor > 0",
    )
    execute(conn, ALLOCATIONS)
    execute(conn, RIGHT_BANK_INVOICE)


def after_rule(conn: duckdb.DuckDBPyConnection, leg: str) -> None:
    if leg == "bank_invoice":
        execute(conn, ALLOCATIONS)


def window_open(expected: str, window: Tolerance | None) -> str:
    """SQL: the run date is still inside the window that starts at `expected`."""
    if window is None:
        return "false"
    if window.business_days is not None:
        return f"(recon_business_days({expected}, $as_of) <= {window.business_days})"
    return f"(datediff('day', {expected}, $as_of) <= {window.days or 0})"


def _late(earlier: str, later: str, window: Tolerance | None) -> str:
    if window is None:
        return "false"
    if window.business_days is not None:
        return f"(recon_business_days({earlier}, {later}) > {window.business_days})"
    return f"(datediff('day', {earlier}, {later}) > {window.days or 0})"


_PAIRS = """
    (select m.rule_id, m.left_refs[1] as lkey, m.right_refs[1] as rkey from {matches} m
     where m.leg = '{leg}' and m.strategy = 'one_to_one')
"""
_UNUSED = "key not in (select key from recon_consumed)"
# The types `ledger_processor` reports about a matched pair itself (a carried pair's are taken
# from the previous slice by these: recon.carry).
PAIR_FINDINGS = "('amount_mismatch', 'fee_mismatch', 'fx_difference', 'timing')"


def ledger_processor(conn, rules: RuleSet, as_of: date) -> None:
    s = rules.settings("ledger_processor")
    # The run's own pairs; the carried ones' findings come from their slice (recon.carry).
    pairs = _PAIRS.format(matches="recon_work_matches", leg="ledger_processor")
    execute(
        conn,
        f"""
        insert into recon_work_discrepancies
        select 'ledger_processor',
               case when r.currency != l.currency then 'fx_difference'
                    when r.settlement_currency = l.currency
                         and abs(r.amount_minor - l.amount_minor) = abs(r.fee_minor)
                         then 'fee_mismatch'
                    else 'amount_mismatch' end,
               r.key, r.amount_minor - l.amount_minor, l.currency, false, [l.key, r.key],
               json_object('processor', l.processor, 'payment_id', l.payment_id,
                   'ledger_amount_minor', l.amount_minor, 'ledger_currency', l.currency,
                   'processor_amount_minor', r.amount_minor, 'processor_currency', r.currency,
                   'settlement_currency', r.settlement_currency, 'fee_minor', r.fee_minor)::varchar
        from {pairs} p join recon_left_ledger_processor l on l.key = p.lkey
        join recon_right_ledger_processor r on r.key = p.rkey
        where r.amount_minor != l.amount_minor or r.currency != l.currency
        union all
        select 'ledger_processor', 'timing', r.key, l.amount_minor, l.currency, false,
               [l.key, r.key],
               json_object('processor', l.processor, 'event_date', l.business_date,
                   'settlement_date', r.settlement_date)::varchar
        from {pairs} p join recon_left_ledger_processor l on l.key = p.lkey
        join recon_right_ledger_processor r on r.key = p.rkey
        where {_late("l.business_date", "r.settlement_date", s.timing)}
        union all
        select * from recon_carried_discrepancies
        union all
        select 'ledger_processor', 'missing_in_processor', l.key, l.amount_minor, l.currency,
               {window_open("l.business_date", s.left_window)}, [],
               json_object('processor', l.processor, 'payment_id', l.payment_id,
                   'processor_ref', l.processor_ref, 'kind', l.kind)::varchar
        from recon_left_ledger_processor l where {_UNUSED}
        union all
        select 'ledger_processor',
               case when exists (select 1 from recon_right_ledger_processor d
                                 join recon_consumed c on c.key = d.key and c.how = 'matched'
                                 where d.processor = r.processor and d.kind = r.kind
                                   and d.processor_ref = r.processor_ref
                                   and d.amount_minor = r.amount_minor and d.key != r.key)
                    then 'duplicate' else 'missing_in_ledger' end,
               r.key, r.amount_minor, r.currency,
               {window_open("r.business_date", s.right_window)}, [],
               json_object('processor', r.processor, 'processor_ref', r.processor_ref,
                   'kind', r.kind, 'line_ref', r.line_ref)::varchar
        from recon_right_ledger_processor r where {_UNUSED}
        """,
        {"as_of": as_of},
    )


def processor_bank(conn, rules: RuleSet, as_of: date) -> None:
    s = rules.settings("processor_bank")
    pairs = _PAIRS.format(matches="recon_every_match", leg="processor_bank")
    # A bank line repeating a matched payout's reference and amount is that payout credited
    # twice, not cash for an invoice: report it, and keep leg 3 away from it. A line that fits
    # several matched payouts names the one with the lowest key (with that payout's first
    # credit and processor), whatever order they arrived in.
    execute(
        conn,
        """
        create or replace temp table recon_bank_duplicates as
        with fits as (
            select b.key, min(struct_pack(payout_key := l.key, first_key := p.rkey,
                                          processor := l.processor)) as fit
            from recon_bank_lines b
            join recon_left_processor_bank l on b.amount_minor = l.amount_minor
                 and b.currency = l.currency
                 and (strpos(recon_norm(b.remittance_info), recon_norm(l.bank_reference)) > 0
                      or strpos(recon_norm(b.remittance_info), recon_norm(l.payout_ref)) > 0)
            join (select left_refs[1] as lkey, right_refs[1] as rkey from recon_work_matches
                  where leg = 'processor_bank') p on p.lkey = l.key
            where b.key not in (select key from recon_consumed)
            group by b.key
        )
        select key, fit.payout_key, fit.first_key, fit.processor from fits
        """,
    )
    execute(
        conn,
        "insert into recon_consumed select key, 'processor_bank', 'duplicate', 'duplicate' "
        "from recon_bank_duplicates",
    )
    execute(
        conn,
        f"""
        insert into recon_work_discrepancies
        select 'processor_bank', 'amount_mismatch', l.key, r.amount_minor - l.amount_minor,
               l.currency, false, [l.key, r.key],
               json_object('processor', l.processor, 'payout_amount_minor', l.amount_minor,
                   'bank_amount_minor', r.amount_minor, 'bank_account', r.account_id)::varchar
        from {pairs} p join recon_left_processor_bank l on l.key = p.lkey
        join recon_right_processor_bank r on r.key = p.rkey
        where r.amount_minor != l.amount_minor
        union all
        select 'processor_bank', 'timing', l.key, l.amount_minor, l.currency, false,
               [l.key, r.key],
               json_object('processor', l.processor, 'expected_date', l.expected_date,
                   'booking_date', r.business_date)::varchar
        from {pairs} p join recon_left_processor_bank l on l.key = p.lkey
        join recon_right_processor_bank r on r.key = p.rkey
        where {_late("l.expected_date", "r.business_date", s.timing)}
        union all
        select 'processor_bank', 'missing_in_bank', l.key, l.amount_minor, l.currency,
               {window_open("l.expected_date", s.left_window)}, [],
               json_object('processor', l.processor, 'payout_ref', l.payout_ref,
                   'expected_date', l.expected_date)::varchar
        from recon_left_processor_bank l where {_UNUSED}
        union all
        select 'processor_bank', 'duplicate', d.key, b.amount_minor, b.currency, false,
               [d.payout_key, d.first_key],
               json_object('processor', d.processor, 'bank_account', b.account_id)::varchar
        from recon_bank_duplicates d join recon_bank_lines b using (key)
        """,
        {"as_of": as_of},
    )


def payout_lines(conn) -> None:
    """Each payout must equal the sum of the net of the settlement lines it pays out."""
    execute(
        conn,
        """
        insert into recon_work_discrepancies
        select 'payout_lines', 'amount_mismatch', p.key,
               coalesce(s.net_minor, 0) - p.amount_minor, p.currency, false, [],
               json_object('processor', p.processor, 'payout_amount_minor', p.amount_minor,
                   'lines_net_minor', coalesce(s.net_minor, 0),
                   'lines', coalesce(s.lines, 0))::varchar
        from recon_left_processor_bank p
        left join (select processor, payout_ref, currency, sum(net_minor) as net_minor,
                          count(*) as lines
                   from recon_settlement_lines group by all) s
          on s.processor = p.processor and s.payout_ref = p.payout_ref
             and s.currency = p.currency
        where coalesce(s.net_minor, 0) != p.amount_minor
        """,
    )


def bank_invoice(conn, rules: RuleSet, as_of: date) -> None:
    s = rules.settings("bank_invoice")
    execute(
        conn,
        f"""
        insert into recon_work_discrepancies
        select 'bank_invoice', 'missing_in_ledger', l.key, l.amount_minor, l.currency,
               {window_open("l.business_date", s.left_window)}, [],
               json_object('bank_account', l.account_id, 'remittance_info', l.remittance_info,
                   'counterparty', l.counterparty)::varchar
        from recon_left_bank_invoice l where {_UNUSED}
        """,
        {"as_of": as_of},
    )


def ambiguous(conn) -> None:
    execute(
        conn,
        """
        insert into recon_work_discrepancies
        select a.leg, 'ambiguous', a.reference, i.amount_minor, i.currency, false, a.candidates,
               json_object('rule_id', a.rule_id, 'rule_version', a.rule_version,
                   'side', a.side)::varchar
        from recon_work_ambiguous a left join recon_items i on i.key = a.reference
        """,
    )


# A view: only the refs of matches and ambiguous items are looked up in it.
ITEMS = """
create or replace temp view recon_items as
select key, amount_minor, currency, business_date from recon_left_ledger_processor
union all select key, amount_minor, currency, business_date from recon_right_ledger_processor
union all select key, amount_minor, currency, business_date from recon_left_processor_bank
union all select key, amount_minor, currency, business_date from recon_bank_lines
union all select key, due_minor, currency, business_date from recon_invoices
"""
