{{ config(schema='ops', alias='file_registry') }}

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
