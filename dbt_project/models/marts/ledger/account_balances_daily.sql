{{ config(schema='ledger') }}

-- Balances as of every date are a query over lines, never a stored running number.
with lines as (
    select * from {{ ref('journal_lines') }}
),

movements as (
    select
        account,
        currency,
        effective_date,
        sum(debit_minor - credit_minor) as net_minor,
        sum(functional_debit_minor - functional_credit_minor) as functional_net_minor
    from lines
    group by all
),

spine as (
    select cast(day as date) as as_of_date
    from range(
        (select min(effective_date) from lines),
        (select max(effective_date) from lines) + interval 1 day,
        interval 1 day
    ) as days(day)
),

accounts as (
    select account, currency, min(effective_date) as opened_on
    from movements
    group by all
),

daily as (
    select spine.as_of_date, accounts.account, accounts.currency,
        coalesce(movements.net_minor, 0) as net_minor,
        coalesce(movements.functional_net_minor, 0) as functional_net_minor
    from accounts
    join spine on spine.as_of_date >= accounts.opened_on
    left join movements
        on movements.account = accounts.account
        and movements.currency = accounts.currency
        and movements.effective_date = spine.as_of_date
)

select
    as_of_date,
    account,
    currency,
    sum(net_minor) over running as balance_minor,
    sum(functional_net_minor) over running as functional_balance_minor
from daily
window running as (
    partition by account, currency order by as_of_date
    rows between unbounded preceding and current row
)
