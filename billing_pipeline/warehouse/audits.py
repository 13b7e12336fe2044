"""Invariants checked on every run before anything is published. Each returns violations."""

from __future__ import annotations

from datetime import date

import duckdb

from billing_pipeline.warehouse.tables import SOURCE_FRAMES, staged_table


def nothing_lost_violations(
    conn: duckdb.DuckDBPyConnection, source: str, partition_date: date
) -> list[dict]:
    """Files of the partition whose rows read != rows staged + quarantined, counted in the
    tables themselves (not taken from what the landing code reported)."""
    staged_union = " union all ".join(
        f"select file_id from raw.{staged_table(source, frame)} "
        "where source = $source and partition_date = $day"
        for frame in SOURCE_FRAMES[source]
    )
    rows = conn.execute(
        f"""
        with registry as (
            select path, file_id, rows_read, rows_staged, rows_quarantined
            from ingest.file_registry
            where source = $source and partition_date = $day
              and status in ('landed', 'unreadable')
        ),
        staged as (select file_id, count(*) as n from ({staged_union}) group by all),
        quarantined as (
            select file_id, count(*) as n from ingest.quarantine
            where source = $source and partition_date = $day and stage in ('parse', 'validate')
            group by all
        )
        select path, rows_read, coalesce(staged.n, 0), coalesce(quarantined.n, 0)
        from registry
        left join staged using (file_id)
        left join quarantined using (file_id)
        where rows_read != coalesce(staged.n, 0) + coalesce(quarantined.n, 0)
           or rows_staged != coalesce(staged.n, 0)
           or rows_quarantined != coalesce(quarantined.n, 0)
        order by path
        """,
        {"source": source, "day": partition_date},
    ).fetchall()
    return [
        {"path": p, "rows_read": r, "rows_in_staging": s, "rows_in_quarantine": q}
        for p, r, s, q in rows
    ]
