{{ config(schema='recon') }}

-- The latest reconciliation: the slice of the most recent run date.
-- Not materialized: read three times below, DuckDB would copy every run date's slice, detail
-- and all, before filtering it to the latest (1.2-1.7 s against 0.45 s at 1M payments a day).
with discrepancies as not materialized (
    select * from {{ source('recon_store', 'discrepancies') }}
),

latest as (
    select max(as_of) as as_of from discrepancies
),

-- An item that was only ever pending and then matched was never a discrepancy anyone had
-- to look at: keep resolved items only if they were open at some point or a controller
-- resolved them.
ever_open as (
    select distinct discrepancy_id from discrepancies where status in ('open', 'written_off')
)

select
    discrepancy_id,
    leg,
    type,
    reference,
    amount_minor,
    currency,
    detected_on,
    age_days,
    status,
    candidates,
    detail,
    resolution,
    discrepancies.as_of,
    rules_version
from discrepancies
join latest using (as_of)
where discrepancies.status != 'resolved'
   or discrepancy_id in (select discrepancy_id from ever_open)
   or coalesce(resolution, '') not like 'auto:%'
