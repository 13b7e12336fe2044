-- Every processor's payouts in one shape.
with stripe as (
    select * from {{ ref('stg_stripe__payouts') }}
),

adyen as (
    select * from {{ ref('stg_adyen__payouts') }}
)

select * from stripe
union all
select * from adyen
