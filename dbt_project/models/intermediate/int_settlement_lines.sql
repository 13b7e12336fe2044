-- Every processor's settlement lines in one shape.
with stripe as (
    select * from {{ ref('stg_stripe__settlement_lines') }}
),

adyen as (
    select * from {{ ref('stg_adyen__settlement_lines') }}
)

select * from stripe
union all
select * from adyen
