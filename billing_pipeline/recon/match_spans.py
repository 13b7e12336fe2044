"""Matches stored once, with the run dates they hold for, instead of once per run date.

A date's reconciliation lists every match current as of that date, and most of them are the
previous date's matches again (carried, or found again by the rules). Storing each date's
list whole made the store grow with days x matches: 4.1M rows after ten dates of 100k
payments a day, for 0.9M distinct matches, and the write of each date grew with it.

So a match's content is stored once (`match_facts`, keyed by a hash of the content), and the
dates it holds for as spans of run dates (`match_spans`): a match belongs to the slice of run
date D when one of its spans has `from_as_of <= D` and `to_as_of` null or `>= D`. A span with
a null end was still current at the latest run date, so a run of a newer date changes only
the matches that appear or disappear. `match_slices` lists the run dates written; the view
`recon_store.matches` joins the three into exactly the rows the per-date slices held.

Writing date D replaces D's membership and nothing else, for any order of dates: spans
covering D whose match D no longer has are cut around D (at the neighbouring run dates), and
each match D has that no span covers gets D, joined to a span ending at the previous run date
and one starting at the next, if any.
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.warehouse.tables import PAYLOAD_TYPE

# A match's evidence is JSON text, written once and read rarely: zstd, as event payloads
# (`tables.PAYLOAD_TYPE`). Writing the 1M-payment world's 1.3M facts took 2.5 against 3.75 s
# with DuckDB's pick, at half the size (benchmarks/RESULTS.md, session 31).
DDL = f"""
create table if not exists recon_store.match_facts (
    match_key varchar not null, match_id varchar not null, leg varchar not null,
    rule_id varchar not null, rule_version integer not null, strategy varchar not null,
    left_refs varchar[] not null, right_refs varchar[] not null, amount_minor bigint,
    currency varchar, evidence {PAYLOAD_TYPE} not null, matched_on date);
create table if not exists recon_store.match_spans (
    match_key varchar not null, from_as_of date not null, to_as_of date);
create table if not exists recon_store.match_slices (
    as_of date not null, rules_version varchar not null, run_id varchar not null);
"""

VIEW = """
create view if not exists recon_store.matches as
select s.as_of, f.match_id, f.leg, f.rule_id, f.rule_version, f.strategy, f.left_refs,
       f.right_refs, f.amount_minor, f.currency, f.evidence, f.matched_on, s.rules_version,
       s.run_id
from recon_store.match_slices s
join recon_store.match_spans p
  on p.from_as_of <= s.as_of and coalesce(p.to_as_of, date '9999-12-31') >= s.as_of
join recon_store.match_facts f using (match_key)
"""

_CONTENT = (
    "match_id, leg, rule_id, rule_version, strategy, left_refs, right_refs, amount_minor, "
    "currency, evidence, matched_on"
)
# The match's id (a sha256 of its leg, rule and refs) and a hash of the rest of its content:
# one key per distinct content. DuckDB's hash() is not promised stable across releases; a
# changed hash only stores a match's content again under a new key (the old key's span is cut
# like any match that disappeared), never mixes two contents. md5 over JSON was 5x slower.
_KEY = (
    "match_id || ':' || hash(rule_version, strategy, amount_minor, currency, evidence, "
    "matched_on)::varchar"
)

_COVERS = "from_as_of <= $d and (to_as_of is null or to_as_of >= $d)"


def _slice_keys(matches: str) -> str:
    return (
        "create or replace temp table recon_slice_keys as "
        f"select distinct {_KEY} as match_key from {matches}"
    )


def _new_facts(matches: str, known: str = "") -> str:
    """Store the content of `matches` not stored yet (nor in the `known` keys' query)."""
    skip = f"match_key not in ({known}) and " if known else ""
    return f"""
    insert into recon_store.match_facts
    select distinct on (match_key) * from (select {_KEY} as match_key, {_CONTENT}
                                           from {matches})
    where {skip}match_key not in (select match_key from recon_store.match_facts)
    """


_STEPS = [
    _slice_keys("recon_out_matches"),
    _new_facts("recon_out_matches"),
    # Spans covering D whose match D does not have: cut D out of them.
    f"""
    create or replace temp table recon_spans_cut as
    select * from recon_store.match_spans
    where {_COVERS} and match_key not in (select match_key from recon_slice_keys)
    """,
    """
    delete from recon_store.match_spans s using recon_spans_cut c
    where s.match_key = c.match_key and s.from_as_of = c.from_as_of
    """,
    """
    insert into recon_store.match_spans
    select match_key, from_as_of, $prev from recon_spans_cut where from_as_of <= $prev
    union all
    select match_key, $next, to_as_of from recon_spans_cut
    where $next is not null and (to_as_of is null or to_as_of >= $next)
    """,
    # Matches of D that no span covers: D joins the span ending at the previous run date
    # and the one starting at the next (if any); with no next run date the span stays open.
    f"""
    create or replace temp table recon_spans_join as
    with added as (
        select match_key from recon_slice_keys
        where match_key not in (select match_key from recon_store.match_spans where {_COVERS})
    )
    select a.match_key, coalesce(l.from_as_of, $d) as from_as_of,
           case when r.match_key is not null then r.to_as_of
                when $next is null then null else $d end as to_as_of,
           l.from_as_of as left_from, r.from_as_of as right_from
    from added a
    left join recon_store.match_spans l on l.match_key = a.match_key and l.to_as_of = $prev
    left join recon_store.match_spans r on r.match_key = a.match_key and r.from_as_of = $next
    """,
    """
    delete from recon_store.match_spans s using recon_spans_join j
    where s.match_key = j.match_key and s.from_as_of in (j.left_from, j.right_from)
    """,
    "insert into recon_store.match_spans select match_key, from_as_of, to_as_of "
    "from recon_spans_join",
    "delete from recon_store.match_slices where as_of = $d",
    "insert into recon_store.match_slices select distinct as_of, rules_version, run_id "
    "from recon_out_run_marks",
]


# The first write of a new latest date D, by a run that carried from the slice before it (P),
# when every span holding on P is still open: those spans hold on D too unless the run did not
# carry or make their match again, so only the run's own matches and P's matches it did not
# carry (`recon_held`, recon.carry) are looked at, not every match of the slice. On a late
# backfill date that is ~0.8M keys instead of 3.1M.
_EXTENDS_LATEST = """
select count(*) = 0 from recon_store.match_spans where to_as_of >= $prev
"""
_LATEST_STEPS = [
    _slice_keys("recon_made_matches"),
    _new_facts("recon_made_matches", "select match_key from recon_held where not carried"),
    # P's matches the run neither carried nor made again: their spans end at P.
    """
    update recon_store.match_spans set to_as_of = $prev
    where to_as_of is null and match_key in (
        select match_key from recon_held
        where not carried and match_key not in (select match_key from recon_slice_keys))
    """,
    # The run's own matches P did not hold: a span from D.
    """
    insert into recon_store.match_spans
    select match_key, $d, null from recon_slice_keys
    where match_key not in (select match_key from recon_held where not carried)
    """,
    *_STEPS[-2:],
]


def ensure(conn: duckdb.DuckDBPyConnection) -> None:
    conn.execute(DDL)
    if _is_table(conn, "matches"):
        _migrate(conn)
    conn.execute(VIEW)


def write(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """Make `recon_out_matches` the matches of run date `as_of` (inside the caller's
    transaction)."""
    prev, next_ = conn.execute(
        "select (select max(as_of) from recon_store.match_slices where as_of < $d), "
        "(select min(as_of) from recon_store.match_slices where as_of > $d)",
        {"d": as_of},
    ).fetchone()
    params = {"d": as_of, "prev": prev, "next": next_}
    steps = _LATEST_STEPS if _extends_latest(conn, as_of, prev, next_) else _STEPS
    for sql in steps:
        conn.execute(sql, {k: v for k, v in params.items() if f"${k}" in sql})


def _extends_latest(conn, as_of: date, prev: date | None, next_: date | None) -> bool:
    if prev is None or next_ is not None:
        return False
    # The run's temp tables (recon.scope, recon.carry); absent: the caller ran no carrying run.
    (present,) = conn.execute(
        "select count(*) from duckdb_tables() "
        "where temporary and table_name in ('recon_since', 'recon_held')"
    ).fetchone()
    if present != 2:
        return False
    (since,) = conn.execute("select max(as_of) from recon_since").fetchone()
    if since != prev:
        return False
    (written,) = conn.execute(
        "select count(*) from recon_store.match_slices where as_of = ?", [as_of]
    ).fetchone()
    return not written and conn.execute(_EXTENDS_LATEST, {"prev": prev}).fetchone()[0]


def _is_table(conn: duckdb.DuckDBPyConnection, name: str) -> bool:
    return bool(
        conn.execute(
            "select count(*) from duckdb_tables() where database_name = current_database() "
            "and schema_name = 'recon_store' and table_name = ?",
            [name],
        ).fetchone()[0]
    )


def _migrate(conn: duckdb.DuckDBPyConnection) -> None:
    """A store from before spans kept `recon_store.matches` as a table of whole slices:
    fold it into facts, spans and slices once, then replace it by the view."""
    conn.execute("begin transaction")
    try:
        conn.execute(
            f"""
            create or replace temp table recon_old_matches as
            select {_KEY} as match_key, * from recon_store.matches
            """
        )
        conn.execute(
            f"""
            insert into recon_store.match_facts
            select distinct match_key, {_CONTENT} from recon_old_matches
            where match_key not in (select match_key from recon_store.match_facts)
            """
        )
        conn.execute(
            """
            insert into recon_store.match_slices
            select as_of, any_value(rules_version), any_value(run_id) from recon_old_matches
            where as_of not in (select as_of from recon_store.match_slices) group by as_of
            """
        )
        # Islands of consecutive run dates per match: each island is one closed span.
        conn.execute(
            """
            insert into recon_store.match_spans
            with dates as (
                select as_of, row_number() over (order by as_of) as pos
                from (select distinct as_of from recon_store.match_slices)
            ),
            held as (
                select distinct m.match_key, d.as_of, d.pos from recon_old_matches m
                join dates d using (as_of)
            )
            select match_key, min(as_of), max(as_of) from (
                select *, pos - row_number() over (partition by match_key order by pos)
                    as island
                from held
            ) group by match_key, island
            """
        )
        conn.execute("drop table recon_store.matches")
        conn.execute("commit")
    except BaseException:
        conn.execute("rollback")
        raise
