{{ config(schema='fx') }}

-- Open foreign-currency balances on monetary accounts per date: what a treasurer would hedge.
-- functional_amount_minor is the carrying value in the ledger (booking rates; month-end
-- rates on a month end, when the revaluation is in the ledger).
with balances as (
    select * from {{ ref('account_balances_daily') }}
),

functional as (
    select any_value(functional_currency) as functional_currency
    from {{ ref('journal_lines') }}
)

select
    balances.as_of_date,
    balances.currency,
    case
        when account like 'assets:receivables%' then 'receivables'
        when account like 'assets:processor_clearing%' then 'processor_clearing'
        when account like 'assets:cash_in_transit%' then 'cash_in_transit'
        when account like 'assets:bank:%' then 'bank'
        when account like 'assets:suspense%' then 'suspense'
        else 'customer_credit'
    end as exposure_kind,
    sum(balances.balance_minor) as open_amount_minor,
    sum(balances.functional_balance_minor) as functional_amount_minor
from balances
cross join functional
where balances.currency != functional.functional_currency
    and (
        account like 'assets:receivables%' or account like 'assets:processor_clearing:%'
        or account like 'assets:cash_in_transit%' or account like 'assets:bank:%'
        or account like 'assets:suspense%' or account like 'liabilities:customer_credit%'
    )
group by all
having sum(balances.balance_minor) != 0 or sum(balances.functional_balance_minor) != 0
