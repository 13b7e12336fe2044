{{ config(schema='recon') }}

-- Every resolution line ever applied or rejected: the controllers' audit trail.
with log as (
    select * from {{ source('recon_store', 'resolutions_log') }}
)

select distinct on (file, line, discrepancy_id, action)
    file, line, discrepancy_id, action, note, who, refs, outcome, reason, applied_at
from log
order by file, line, discrepancy_id, action, as_of
