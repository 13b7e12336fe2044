{{ config(schema='ledger') }}

with balances as (
    select * from {{ ref('account_balances_daily') }}
)

select
    as_of_date,
    currency,
    sum(case when balance_minor > 0 then balance_minor else 0 end) as total_debit_minor,
    sum(case when balance_minor < 0 then -balance_minor else 0 end) as total_credit_minor,
    sum(functional_balance_minor) as functional_net_minor
from balances
group by all
