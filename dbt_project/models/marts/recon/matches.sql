{{ config(schema='recon') }}

-- The latest reconciliation: the slice of the most recent run date.
with matches as (
    select * from {{ source('recon_store', 'matches') }}
),

latest as (
    select max(as_of) as as_of from matches
)

select
    match_id,
    leg,
    rule_id,
    rule_version,
    strategy,
    left_refs,
    right_refs,
    amount_minor,
    currency,
    evidence,
    matched_on,
    matches.as_of,
    rules_version
from matches
join latest using (as_of)
