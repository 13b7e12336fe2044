-- Blocking: on the latest report date, when everything delivered is known, the aging's amount
-- due per currency equals the assets:receivables balance of ledger.account_balances_daily
-- (its latest row on or before that date). Returns the currencies that differ.
with aging as (
    select * from {{ ref('invoice_aging') }}
),

latest as (
    select max(as_of_date) as as_of_date from aging
),

aging_total as (
    select currency, sum(amount_due_minor) as aging_minor
    from aging
    where as_of_date = (select as_of_date from latest)
    group by all
),

balances as (
    select currency, balance_minor
    from {{ ref('account_balances_daily') }}
    where account = 'assets:receivables'
        and as_of_date <= (select as_of_date from latest)
    qualify row_number() over (partition by currency order by as_of_date desc) = 1
)

select
    coalesce(aging_total.currency, balances.currency) as currency,
    coalesce(aging_total.aging_minor, 0) as aging_minor,
    coalesce(balances.balance_minor, 0) as balance_minor
from aging_total
full outer join balances using (currency)
where coalesce(aging_total.aging_minor, 0) != coalesce(balances.balance_minor, 0)
