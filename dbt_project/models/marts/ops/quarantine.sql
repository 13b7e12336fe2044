-- A view: this mart renames columns of a table the pipeline already wrote; copying it
-- (a million lines at 100k payments a day) would cost a write per run for nothing.
-- publish copies it into analytics.duckdb as a table like every other relation.
{{ config(schema='ops', alias='quarantine', materialized='view') }}

with quarantine as (
    select * from {{ source('ingest', 'quarantine') }}
)

select
    file_id,
    path,
    line_no,
    source,
    partition_date,
    stage,
    reason,
    raw_record,
    quarantined_at
from quarantine
