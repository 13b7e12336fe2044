{{ config(schema='fx') }}

with rates as (
    select * from {{ source('ledger_store', 'fx_rates') }}
)

select
    rate_date,
    currency,
    functional_currency,
    rate,
    fixing_date,
    source,
    problem
from rates
