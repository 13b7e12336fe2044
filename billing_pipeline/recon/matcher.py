"""Run one rule over a leg's left and right items, set-based, without guessing.

Candidates are all (left, right) pairs, among items no earlier rule consumed, for which every
criterion holds. The strategy decides what becomes a match:

- one_to_one: a pair matches only when each side has exactly that one candidate. Every other
  candidate pair is ambiguous: its items are held (no later, looser rule may pick among them)
  and reported with their candidates.
- one_to_many: each left item takes all its candidates; the left is consumed, the right items
  stay available (an invoice paid by several transfers, each naming it).
- many_to_one: each right item takes all its candidates; the right is consumed.
"""

from __future__ import annotations

import duckdb

from billing_pipeline.recon.criteria import rule_evidence, rule_join
from billing_pipeline.recon.rules import Rule

WORK_DDL = """
create or replace temp table recon_consumed (
    key varchar, leg varchar, rule_id varchar, how varchar);
create or replace temp table recon_work_matches (
    leg varchar, rule_id varchar, rule_version integer, strategy varchar,
    left_refs varchar[], right_refs varchar[], evidence varchar);
create or replace temp table recon_work_ambiguous (
    leg varchar, rule_id varchar, rule_version integer, side varchar, reference varchar,
    candidates varchar[]);
"""


def reset_work(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(WORK_DDL)


def execute(conn: duckdb.DuckDBPyConnection, sql: str, params: dict | list | None = None):
    """DuckDB refuses named parameters a statement does not use: pass only the used ones."""
    if isinstance(params, list):
        return conn.execute(sql, params)
    used = {k: v for k, v in (params or {}).items() if f"${k}" in sql}
    return conn.execute(sql, used or None)


def run_rule(conn: duckdb.DuckDBPyConnection, rule: Rule) -> int:
    """Apply `rule`; returns how many matches it made."""
    unused = "(select * from {} where key not in (select key from recon_consumed))"
    left, right, on = rule_join(
        rule.criteria, unused.format(f"recon_left_{rule.leg}"),
        unused.format(f"recon_right_{rule.leg}"),
    )  # fmt: skip
    execute(
        conn,
        f"""
        create or replace temp table recon_candidates as
        select l.key as lkey, r.key as rkey, {rule_evidence(rule.criteria)}::varchar as evidence
        from {left} l join {right} r on {on}
        """,
    )
    params = {"leg": rule.leg, "rule": rule.id, "version": rule.version}
    if rule.strategy == "one_to_one":
        return _one_to_one(conn, params)
    group, other = ("lkey", "rkey") if rule.strategy == "one_to_many" else ("rkey", "lkey")
    return _grouped(conn, params, rule.strategy, group, other)


def _one_to_one(conn, params) -> int:
    execute(
        conn,
        """
        create or replace temp table recon_scored as
        select c.*, l.n as n_left, r.n as n_right from recon_candidates c
        join (select lkey, count(*) as n from recon_candidates group by lkey) l using (lkey)
        join (select rkey, count(*) as n from recon_candidates group by rkey) r using (rkey)
        """,
    )
    execute(
        conn,
        """
        insert into recon_work_matches
        select $leg, $rule, $version, 'one_to_one', [lkey], [rkey],
               -- what json_object('criteria', evidence::json) prints, without parsing it
               '{"criteria":' || evidence || '}'
        from recon_scored where n_left = 1 and n_right = 1
        """,
        params,
    )
    execute(
        conn,
        """
        insert into recon_work_ambiguous
        select $leg, $rule, $version, 'left', lkey, list(rkey order by rkey)
        from recon_scored where n_left > 1 group by lkey
        union all
        select $leg, $rule, $version, 'right', rkey, list(lkey order by lkey)
        from recon_scored where n_right > 1 group by rkey
        """,
        params,
    )
    execute(
        conn,
        """
        insert into recon_consumed
        select key, $leg, $rule, how from (
            select lkey as key, case when n_left = 1 and n_right = 1 then 'matched'
                                     else 'ambiguous' end as how from recon_scored
            union
            select rkey, case when n_left = 1 and n_right = 1 then 'matched'
                              else 'ambiguous' end from recon_scored)
        """,
        params,
    )
    (count,) = conn.execute(
        "select count(*) from recon_scored where n_left = 1 and n_right = 1"
    ).fetchone()
    return count


def _grouped(conn, params, strategy: str, group: str, other: str) -> int:
    left_refs = f"[{group}]" if group == "lkey" else f"list({other} order by {other})"
    right_refs = f"[{group}]" if group == "rkey" else f"list({other} order by {other})"
    execute(
        conn,
        f"""
        insert into recon_work_matches
        select $leg, $rule, $version, '{strategy}', {left_refs}, {right_refs},
               json_object('criteria', to_json(list(json_object(
                   'counterpart', {other}, 'criteria', evidence::json) order by {other})))::varchar
        from recon_candidates group by {group}
        """,
        params,
    )
    execute(
        conn,
        f"""
        insert into recon_consumed
        select distinct {group}, $leg, $rule, 'matched' from recon_candidates
        """,
        params,
    )
    (count,) = conn.execute(f"select count(distinct {group}) from recon_candidates").fetchone()
    return count
