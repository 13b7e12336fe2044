"""From work tables to the `recon_out_<table>` temp tables a run writes.

Resolutions are checked against the data here: an unknown discrepancy id, a ref that names no
item, or a ref already matched becomes a `rejected` row of the log with its reason.
"""

from __future__ import annotations

import json
from datetime import date

from billing_pipeline.recon import history
from billing_pipeline.recon.decisions import DECISIONS, decided_pairs
from billing_pipeline.recon.matcher import execute
from billing_pipeline.recon.resolutions import Resolution
from billing_pipeline.recon.rules import RuleSet

# Signed as the holding account's balance: > 0 money we expected and will not get.
_WRITE_OFF_SIGN = {
    "missing_in_bank": 1, "missing_in_processor": 1, "amount_mismatch": -1,
    "fee_mismatch": -1, "fx_difference": -1, "missing_in_ledger": -1, "duplicate": -1,
}  # fmt: skip


def load_resolutions(conn, found: list[Resolution], as_of: date) -> None:
    execute(
        conn,
        """
        create or replace temp table recon_resolutions (
            ord integer, file varchar, line bigint, discrepancy_id varchar, action varchar,
            note varchar, who varchar, refs varchar[], problem varchar)
        """,
    )
    if found:
        conn.executemany(
            "insert into recon_resolutions values (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    i,
                    r.file,
                    r.line,
                    r.discrepancy_id,
                    r.action,
                    r.note,
                    r.who,
                    list(r.refs),
                    r.problem,
                )
                for i, r in enumerate(found)
            ],
        )


def manual_matches(conn, as_of: date) -> None:
    """Apply manual_match lines first, so the rules never reuse what a controller matched."""
    rows = execute(
        conn,
        """
        select r.ord, r.refs, h.leg from recon_resolutions r
        left join recon_history h using (discrepancy_id)
        where r.action = 'manual_match' and r.problem is null order by r.ord
        """,
    ).fetchall()
    for ord_, refs, leg in rows:
        problem = _manual_problem(conn, refs, leg)
        if problem:
            execute(conn, "update recon_resolutions set problem = ? where ord = ?", [problem, ord_])
            continue
        execute(
            conn,
            f"""
            insert into recon_work_matches
            -- (DuckDB binds no subquery inside a lambda: list_filter over the refs failed)
            select $leg, 'manual', 1, 'manual',
                   (select list_sort(list(key)) from recon_left_{leg}
                    where list_contains($refs, key)),
                   (select list_sort(list(key)) from recon_right_{leg}
                    where list_contains($refs, key)),
                   json_object('resolution', r.file || ':' || r.line, 'who', r.who,
                               'note', r.note)::varchar
            from recon_resolutions r where r.ord = $ord
            """,
            {"leg": leg, "refs": refs, "ord": ord_},
        )
        execute(
            conn,
            "insert into recon_consumed select unnest($refs), $leg, 'manual', 'matched'",
            {"refs": refs, "leg": leg},
        )


def _manual_problem(conn, refs: list[str], leg: str | None) -> str | None:
    if leg is None:
        return "unknown discrepancy id"
    used = execute(
        conn, "select list(key) from recon_consumed where list_contains($refs, key)", {"refs": refs}
    ).fetchone()[0]
    if used:
        return f"refs already matched: {sorted(used)}"
    sides = execute(
        conn,
        f"""
        select count(*) filter (where key in (select key from recon_left_{leg})),
               count(*) filter (where key in (select key from recon_right_{leg}))
        from (select unnest($refs) as key)
        """,
        {"refs": refs},
    ).fetchone()
    if sides[0] + sides[1] != len(refs):
        return f"some refs name no {leg} item as of this date"
    if not sides[0] or not sides[1]:
        return f"a manual match needs refs on both sides of {leg}"
    return None


def matches(conn, as_of: date, rules_version: str, run_id: str) -> None:
    execute(
        conn,
        "create or replace temp table recon_run as "
        "select $as_of::date as as_of, $rules_version::varchar as rules_version, "
        "$run::varchar as run_id",
        {"as_of": as_of, "rules_version": rules_version, "run": run_id},
    )
    execute(
        conn,
        """
        create or replace temp table recon_made_matches as
        -- Size each match by joining its unnested refs to the items (a hash join), not with
        -- a list_contains subquery per match (a nested loop: ~550 s -> 3 s at 100k/day).
        -- Materialized: the numbering is in no particular order, so both readers must see
        -- the one computed numbering, whatever the planner would otherwise inline.
        with numbered as materialized (
            select row_number() over () as match_no, * from recon_work_matches
        ),
        refs as (
            select distinct match_no, key, is_left from (
                select match_no, unnest(left_refs) as key, true as is_left from numbered
                union all
                select match_no, unnest(right_refs) as key, false as is_left from numbered
            )
        ),
        measured as (
            select refs.match_no,
                   sum(i.amount_minor) filter (where refs.is_left) as amount_minor,
                   min(i.currency) filter (where refs.is_left) as currency,
                   max(i.business_date) as matched_on
            from refs join recon_items i using (key)
            group by refs.match_no
        ),
        sized as (
            select numbered.* exclude (match_no), measured.amount_minor, measured.currency,
                   measured.matched_on
            from numbered left join measured using (match_no)
        )
        select r.as_of,
               left(sha256(leg || '|' || rule_id || '|' || array_to_string(left_refs, ',')
                           || '|' || array_to_string(right_refs, ',')), 16) as match_id,
               leg, rule_id, rule_version, strategy, left_refs, right_refs, amount_minor,
               currency, evidence, matched_on, r.rules_version, r.run_id
        from sized, recon_run r
        """,
    )
    # A view: the carried matches' content is read from the stored facts where the slice is
    # written, never copied into the run (recon.carry).
    execute(
        conn,
        """
        create or replace temp view recon_out_matches as
        select * from recon_made_matches
        union all
        select r.as_of, f.match_id, 'ledger_processor', f.rule_id, f.rule_version, f.strategy,
               f.left_refs, f.right_refs, f.amount_minor, f.currency, f.evidence, f.matched_on,
               r.rules_version, r.run_id
        from recon_carried c join recon_store.match_facts f using (match_key), recon_run r
        """,
    )


def discrepancies(conn, as_of: date, rules: RuleSet, run_id: str) -> None:
    execute(
        conn,
        """
        create or replace temp table recon_current as
        select left(sha256(leg || '|' || type || '|' || reference), 16) as discrepancy_id, *
        from recon_work_discrepancies
        qualify row_number() over (partition by leg, type, reference order by detail) = 1
        """,
    )
    # The last line about a discrepancy wins; a line about an unknown id is rejected.
    execute(
        conn,
        """
        update recon_resolutions set problem = 'unknown discrepancy id'
        where problem is null and action != 'manual_match'
          and discrepancy_id not in (select discrepancy_id from recon_current)
          and discrepancy_id not in (select discrepancy_id from recon_history)
        """,
    )
    execute(
        conn,
        """
        create or replace temp table recon_effective as
        select * from recon_resolutions where problem is null
        qualify row_number() over (partition by discrepancy_id order by ord desc) = 1
        """,
    )
    history.load(conn, as_of)
    execute(
        conn,
        """
        create or replace temp table recon_out_discrepancies as
        with merged as (
            select c.discrepancy_id, c.leg, c.type, c.reference, c.amount_minor, c.currency,
                   coalesce(h.detected_on, $as_of) as detected_on,
                   case when c.window_open then 'pending' else 'open' end as base_status,
                   c.candidates, c.detail, null::varchar as prior_resolution
            from recon_current c left join recon_history h using (discrepancy_id)
            union all
            select p.discrepancy_id, p.leg, p.type, p.reference, p.amount_minor, p.currency,
                   p.detected_on,
                   case when p.status = 'written_off' then 'written_off' else 'resolved' end,
                   p.candidates, p.detail,
                   coalesce(p.resolution, 'auto: no longer detected')
            from recon_previous p join recon_history h using (discrepancy_id)
            where p.discrepancy_id not in (select discrepancy_id from recon_current)
              -- An item that was only ever pending is carried once, into the slice of the
              -- date it cleared; after that its history is that slice. Carrying every such
              -- item into every later slice made each slice hold all of history (O(days^2)).
              and (p.status in ('open', 'pending') or h.ever_open
                   or coalesce(p.resolution, '') not like 'auto:%'
                   or p.discrepancy_id in (select discrepancy_id from recon_effective))
        )
        select $as_of as as_of, m.discrepancy_id, m.leg, m.type, m.reference, m.amount_minor,
               m.currency, m.detected_on, datediff('day', m.detected_on, $as_of)::integer
                   as age_days,
               case e.action when 'write_off' then 'written_off'
                             when 'accept' then 'resolved' when 'manual_match' then 'resolved'
                             else m.base_status end as status,
               m.candidates, m.detail,
               coalesce(e.action || ' by ' || e.who || coalesce(': ' || e.note, '')
                            || ' (' || e.file || ':' || e.line || ')',
                        m.prior_resolution) as resolution,
               $rules_version as rules_version, $run as run_id
        -- No order by: readers sort; sorting a 1M-payment day's 2.3M rows here took 1.5 s.
        from merged m left join recon_effective e using (discrepancy_id)
        """,
        {"as_of": as_of, "rules_version": rules.version, "run": run_id},
    )
    _resolutions_log(conn, as_of, run_id)
    _write_offs(conn, rules)


def _resolutions_log(conn, as_of: date, run_id: str) -> None:
    execute(
        conn,
        """
        create or replace temp table recon_out_resolutions_log as
        with first_applied as (
            select file, line, min(as_of) as applied_at from recon_store.resolutions_log
            where outcome = 'applied' and as_of < $as_of group by file, line
        )
        select $as_of as as_of, r.file, r.line, r.discrepancy_id, r.action, r.note, r.who,
               r.refs, case when r.problem is null then 'applied' else 'rejected' end as outcome,
               r.problem as reason, coalesce(f.applied_at, $as_of) as applied_at,
               $run as run_id
        from recon_resolutions r left join first_applied f using (file, line)
        order by r.ord
        """,
        {"as_of": as_of, "run": run_id},
    )


def _write_offs(conn, rules: RuleSet) -> None:
    rows = execute(
        conn,
        """
        select d.discrepancy_id, d.leg, d.type, d.amount_minor, d.currency, d.detail,
               e.who, e.note, l.applied_at
        from recon_out_discrepancies d
        join recon_effective e using (discrepancy_id)
        join recon_out_resolutions_log l on l.file = e.file and l.line = e.line
        where e.action = 'write_off' order by d.discrepancy_id
        """,
    ).fetchall()
    execute(
        conn,
        """
        create or replace temp table recon_write_offs (
            discrepancy_id varchar, holding_account varchar, amount_minor bigint,
            currency varchar, who varchar, note varchar, applied_at date)
        """,
    )
    for ident, leg, kind, amount, currency, detail, who, note, applied_at in rows:
        sign = _WRITE_OFF_SIGN.get(kind)
        if sign is None or amount is None:
            continue  # timing and ambiguous items carry no balance of their own
        facts = json.loads(detail or "{}")
        account = rules.holding_account(leg, kind).format_map(
            {
                "processor": facts.get("processor", "unknown"),
                "bank_account": facts.get("bank_account", "unknown"),
            }
        )
        execute(
            conn,
            "insert into recon_write_offs values (?, ?, ?, ?, ?, ?, ?)",
            [ident, account, sign * amount, currency, who, note, applied_at],
        )


def decisions(conn, as_of: date, run_id: str) -> None:
    decided_pairs(conn, as_of)
    execute(conn, DECISIONS)
    # Made first, then compared: planned as one statement with the store's 5M decisions,
    # the view's joins took 5.6 s on a late backfill date, against 0.4 + 0.4 s in two.
    execute(conn, "create or replace temp table recon_decisions_made as from recon_decisions_raw")
    # The stored decisions under the same keys, found over the keys alone; only theirs are
    # read with their payloads. Building the comparison on every stored decision's payload
    # took 3.6 s on the 30th date of a 100k-payments-a-day backfill (5.4M stored decisions).
    execute(
        conn,
        """
        create or replace temp table recon_decisions_stored as
        select seq from store.events semi join recon_decisions_made using (idempotency_key)
        where source = 'recon' and file_id != 'recon:' || $as_of
        """,
        {"as_of": as_of},
    )
    execute(
        conn,
        """
        create or replace temp table recon_decisions_new as
        select $as_of as as_of, d.*, 'recon' as source, $run as run_id
        from recon_decisions_made d
        -- A decision an earlier date already recorded, with the same payload, is not
        -- repeated: a date's slice holds what reconciliation newly decided (or decided
        -- differently, which the event store then reports as a conflict). Decisions this
        -- date recorded on an earlier run of it stay, so a rerun writes the same slice.
        -- (the payload text itself is compared: hashing each of a late date's 5.2M
        -- decisions to compare with the stored hash took 3.5 s)
        anti join (select idempotency_key, payload from store.events
                   where seq in (select seq from recon_decisions_stored)) s
            on s.idempotency_key = d.idempotency_key and s.payload = d.payload
        """,
        {"as_of": as_of, "run": run_id},
    )
    # The made decisions are not read again; temp tables live as long as the connection.
    execute(conn, "drop table recon_decisions_made")
    # A decision's line in the date's file of decisions is its rank by key, numbered once here:
    # the event store's append reads the slice once per window of instants. Ranked over the
    # keys alone, and joined to the decisions only where the slice is written: a window over
    # the rows sorted their payloads too (1.0 s against 0.5 s at 1M), a copy with the ranks
    # held the day's decisions twice, and an update of them took 7 s inside a transaction.
    execute(
        conn,
        """
        create or replace temp table recon_decision_lines as
        select rowid as decision, row_number() over (order by idempotency_key) as source_line
        from recon_decisions_new
        """,
    )
    execute(
        conn,
        """
        create or replace temp view recon_out_decisions as
        select d.*, l.source_line
        from recon_decisions_new d join recon_decision_lines l on l.decision = d.rowid
        """,
    )


def carried_lefts(conn) -> int:
    """How many distinct left items the carried matches hold. Only a many-to-one match shares
    its left items with other matches (a one-to-one or one-to-many match consumes its left):
    without one, the count is the lists' lengths, and the 3M keys of a late backfill date are
    not deduplicated (1.1 s)."""
    shared, listed = conn.execute(
        "select bool_or(strategy = 'many_to_one'), coalesce(sum(len(left_refs)), 0) "
        "from recon_carried"
    ).fetchone()
    if not shared:
        return listed
    return conn.execute(
        "select count(distinct key) from (select unnest(left_refs) as key from recon_carried)"
    ).fetchone()[0]


def metrics(conn, as_of: date, run_id: str) -> None:
    execute(
        conn,
        """
        create or replace temp table recon_out_metrics as
        with lefts as (
            select 'ledger_processor' as leg, key from recon_left_ledger_processor
            union all select 'processor_bank', key from recon_left_processor_bank
            union all select 'bank_invoice', key from recon_left_bank_invoice
                where key not in (select key from recon_consumed where leg = 'processor_bank')
        ),
        rates as (
            select leg, sum(items)::bigint as items, sum(matched)::bigint as matched from (
                select l.leg, count(*) as items, count(c.key) as matched
                from lefts l left join (select distinct key, leg from recon_consumed
                                        where how = 'matched') c
                  on c.key = l.key and c.leg = l.leg
                group by l.leg
                -- A carried match's items are matched, and are not loaded (recon.scope).
                union all
                select 'ledger_processor', $carried, $carried where $carried > 0
            ) group by leg
        ),
        open_items as (
            select leg, type, currency, amount_minor,
                   case when age_days = 0 then '0' when age_days <= 3 then '1-3'
                        when age_days <= 7 then '4-7' when age_days <= 30 then '8-30'
                        else '30+' end as age_bucket
            from recon_out_discrepancies where status = 'open'
        )
        select $as_of as as_of, leg, 'items' as metric, null::varchar as type,
               null::varchar as age_bucket, null::varchar as currency,
               items::decimal(38, 4) as value from rates
        union all select $as_of, leg, 'matched', null, null, null, matched from rates
        union all select $as_of, leg, 'match_rate', null, null, null,
               case when items = 0 then 1 else round(matched::decimal(38, 4) / items, 4) end
               from rates
        union all select $as_of, leg, 'open_count', type, age_bucket, currency, count(*)
               from open_items group by all
        union all select $as_of, leg, 'open_amount_minor', type, age_bucket, currency,
               sum(amount_minor) from open_items group by all
        """,
        {"as_of": as_of, "carried": carried_lefts(conn)},
    )
    execute(
        conn,
        """
        create or replace temp table recon_out_metrics as
        select *, $run as run_id from recon_out_metrics
        order by leg, metric, type, age_bucket, currency
        """,
        {"run": run_id},
    )
