{{ config(schema='ops', alias='quarantine') }}

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
