-- A view: this mart renames columns of a table the pipeline already wrote; copying it
-- (a million lines at 100k payments a day) would cost a write per run for nothing.
-- publish copies it into analytics.duckdb as a table like every other relation.
{{ config(schema='ops', alias='file_registry', materialized='view') }}

with registry as (
    select * from {{ source('ingest', 'file_registry') }}
)

select
    file_id,
    path,
    sha256,
    source,
    partition_date,
    file_name,
    size_bytes,
    path_version,
    status,
    duplicate_of,
    detail,
    file_format,
    rows_read,
    rows_staged,
    rows_quarantined,
    landed_at
from registry
