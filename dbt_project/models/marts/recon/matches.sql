{{ config(schema='recon') }}

-- The latest reconciliation: the slice of the most recent run date.
with matches as (
    select * from {{ source('recon_store', 'matches') }}
),

-- From the list of run dates: a max over the matches view would expand every date's slice.
latest as (
    select max(as_of) as as_of from {{ source('recon_store', 'match_slices') }}
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
