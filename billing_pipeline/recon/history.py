"""What earlier slices say about each discrepancy: when it was first detected, its leg, its last
slice before this run and whether it was ever open (`recon_history`), and its row in that last
slice (`recon_previous`), which this run carries forward as resolved when it is gone.

Read from every earlier slice, that is history-sized (7.7M rows and 2.9M ids on the 29th date
of a 100k-payments-a-day backfill). When the run carries from P and P's slice was the last one
written before this date (`recon_store.run_marks.write_no`), only three sets of ids can matter:
- P's rows: every discrepancy P had, open or carried, has its last row there;
- the run's own discrepancies (when they were first detected);
- the ids the resolution files name (a controller may resolve an old, cleared one).
Any other id's last row is older than P, and P's run, which saw the same history, already let
it go: it had cleared by itself and was never open, and only a resolution brings such a one
back. Without that order (an earlier date re-run after P, slices of other rule sets), all ids
are read.
"""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.recon.matcher import execute

_HISTORY = """
create or replace temp table recon_history as
select discrepancy_id, min(as_of) as detected_on, arg_max(leg, as_of) as leg,
       max(as_of) as last_as_of, bool_or(status in ('open', 'written_off')) as ever_open
from recon_store.discrepancies where as_of < $as_of {only} group by discrepancy_id
"""

_RESOLVED_IDS = "select discrepancy_id from recon_resolutions"
_NEEDED_IDS = f"""
{_RESOLVED_IDS}
union select discrepancy_id from recon_current
union select discrepancy_id from recon_store.discrepancies where as_of = $since
"""

# P is the latest run mark before this date, and was written after every other one before it.
_SINCE_IS_LAST = """
select s.as_of from recon_since s
join recon_store.run_marks m on m.as_of = s.as_of
where m.write_no is not null
  and m.write_no = (select max(write_no) from recon_store.run_marks where as_of < $as_of)
  and s.as_of = (select max(as_of) from recon_store.run_marks where as_of < $as_of)
"""

_PREVIOUS = """
create or replace temp table recon_previous as
select d.* from recon_store.discrepancies d
join recon_history h on h.discrepancy_id = d.discrepancy_id and h.last_as_of = d.as_of
{where}
"""


def since_is_last(conn: duckdb.DuckDBPyConnection, as_of: date) -> date | None:
    rows = execute(conn, _SINCE_IS_LAST, {"as_of": as_of}).fetchall()
    return rows[0][0] if rows else None


def load_for_resolutions(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """`recon_history` of the ids the resolution files name, or of all ids when the run does
    not follow the last slice (then `load` keeps it)."""
    only = f"and discrepancy_id in ({_RESOLVED_IDS})" if since_is_last(conn, as_of) else ""
    execute(conn, _HISTORY.format(only=only), {"as_of": as_of})


def load(conn: duckdb.DuckDBPyConnection, as_of: date) -> None:
    """After `recon_current`: `recon_history` and `recon_previous` for every id that matters."""
    since = since_is_last(conn, as_of)
    if since is None:
        execute(conn, _PREVIOUS.format(where=""))
        return
    params = {"as_of": as_of, "since": since}
    execute(conn, _HISTORY.format(only=f"and discrepancy_id in ({_NEEDED_IDS})"), params)
    (resolved,) = conn.execute("select count(*) from recon_resolutions").fetchone()
    # P's rows are found by date; older last rows only for the ids resolutions name.
    where = "where d.as_of = $since" + (
        f" or d.discrepancy_id in ({_RESOLVED_IDS})" if resolved else ""
    )
    execute(conn, _PREVIOUS.format(where=where), params)
