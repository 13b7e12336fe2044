"""Bring a relation of a copy of the last published file up to date by writing only what changed.

Publishing copied every relation whole every day, so its cost grew with history: on the 1M-
payment world's third day, 10M journal lines were compressed and written again to add 3.4M.
Reading and hashing rows is far cheaper than writing them (10M journal lines hash in ~0.5 s and
take ~10 s to write), so the publish starts from a copy of the file analysts already have and,
relation by relation, compares the two by the hash of each whole row:

- each row hash is counted on both sides; a hash whose counts differ is *changed*;
- the copy's rows with a changed hash are deleted and the source's rows with it inserted.

Rows that are identical (same values in every column) are interchangeable, so this gives the
copy exactly the source's rows, duplicates included. Only two different rows with the same
64-bit hash could hide a change (a chance of about 2^-64 per changed row); the row count is
checked after every update, and a relation whose columns changed, or most of whose rows are
new, is written whole instead.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# Writing rows is the cost; deleting them only marks them. Hashing both sides, deleting and
# inserting reads each side about twice, at ~0.05 s per million rows, where writing takes
# ~1 s per million: an update pays while it inserts less than about this share of the rows.
# (The blocks deleted rows leave behind are the publish's concern: `publish.MAX_FREE_SHARE`.)
REWRITE_SHARE = 0.6


@dataclass(frozen=True)
class RelationChange:
    mode: str  # unchanged | updated | rewritten
    deleted: int = 0
    inserted: int = 0


def columns(conn: duckdb.DuckDBPyConnection, relation: str) -> list[tuple[str, str]]:
    described = conn.execute(f"select column_name, column_type from (describe from {relation})")
    return described.fetchall()


def update_relation(
    conn: duckdb.DuckDBPyConnection, source: str, target: str, rewrite
) -> RelationChange:
    """Make `target` (a table of the copy) hold exactly the rows of `source`; `rewrite()`
    replaces it whole when an update would not do."""
    if columns(conn, source) != columns(conn, target):
        rewrite()
        return RelationChange("rewritten")
    conn.execute(
        f"""
        create or replace temp table publish_changed as
        with new as (select hash(s) as h, count(*) as n from {source} s group by 1),
             old as (select hash(t) as h, count(*) as n from {target} t group by 1)
        select h, coalesce(new.n, 0) as new_rows, coalesce(old.n, 0) as old_rows
        from new full join old using (h)
        where new.n is distinct from old.n
        """
    )
    deleted, inserted, rows = conn.execute(
        "select coalesce(sum(old_rows), 0), coalesce(sum(new_rows), 0), "
        f"(select count(*) from {source}) from publish_changed"
    ).fetchone()
    try:
        if not deleted and not inserted:
            return RelationChange("unchanged")
        if inserted > REWRITE_SHARE * rows:
            rewrite()
            return RelationChange("rewritten")
        conn.execute(f"delete from {target} as t where hash(t) in (select h from publish_changed)")
        conn.execute(
            f"insert into {target} select * from {source} s "
            "where hash(s) in (select h from publish_changed where new_rows > 0)"
        )
    finally:
        conn.execute("drop table publish_changed")
    (published,) = conn.execute(f"select count(*) from {target}").fetchone()
    if published != rows:
        raise RuntimeError(f"publishing {source}: {published} rows written, {rows} expected")
    return RelationChange("updated", int(deleted), int(inserted))
