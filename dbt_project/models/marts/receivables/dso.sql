{{ config(schema='receivables') }}

-- Days sales outstanding on each report date, per invoice currency and in the functional
-- currency (currency = 'functional'):
--
--     dso_days = receivables_minor / revenue_in_window_minor * window_days
--
-- receivables: the aging's amount due on the date (as known then; functional: at the date's
--   rate). revenue in window: net invoiced revenue of the window_days ending on the date
--   (income:revenue lines of invoice.sent, credit notes and voids, effective in the window
--   and recorded by the date; functional: at each line's own rate, as booked). Card sales
--   without an invoice are cash sales and never receivable, so they are left out.
-- window_days is the dbt var dso_window_days (default 90). No revenue in the window: null.
{% set window_days = var('dso_window_days', 90) | int %}

with aging as (
    select * from {{ ref('invoice_aging') }}
),

lines as (
    select * from {{ source('ledger_store', 'journal_lines') }}
),

dates as (
    select distinct as_of_date from aging
),

receivables as (
    select as_of_date, currency, sum(amount_due_minor) as receivables_minor
    from aging
    group by all
    union all
    select as_of_date, 'functional', sum(functional_amount_due_minor)
    from aging
    group by all
),

invoiced as (
    select effective_date, partition_date, currency,
        credit_minor - debit_minor as revenue_minor,
        functional_credit_minor - functional_debit_minor as functional_revenue_minor
    from lines
    where account = 'income:revenue' and fact_type like 'invoice.%'
),

revenue as (
    select dates.as_of_date, invoiced.currency, sum(invoiced.revenue_minor) as revenue_minor
    from dates
    join invoiced
        on invoiced.effective_date > dates.as_of_date - interval {{ window_days }} day
        and invoiced.effective_date <= dates.as_of_date
        and invoiced.partition_date <= dates.as_of_date
    group by all
    union all
    select dates.as_of_date, 'functional', sum(invoiced.functional_revenue_minor)
    from dates
    join invoiced
        on invoiced.effective_date > dates.as_of_date - interval {{ window_days }} day
        and invoiced.effective_date <= dates.as_of_date
        and invoiced.partition_date <= dates.as_of_date
    group by all
),

combined as (
    select
        coalesce(receivables.as_of_date, revenue.as_of_date) as as_of_date,
        coalesce(receivables.currency, revenue.currency) as currency,
        coalesce(receivables.receivables_minor, 0) as receivables_minor,
        coalesce(revenue.revenue_minor, 0) as revenue_in_window_minor
    from receivables
    full outer join revenue using (as_of_date, currency)
)

select
    as_of_date,
    currency,
    cast(receivables_minor as bigint) as receivables_minor,
    cast(revenue_in_window_minor as bigint) as revenue_in_window_minor,
    {{ window_days }} as window_days,
    -- A ratio of days, not money: two decimals are plenty.
    case
        when revenue_in_window_minor > 0
            then cast(round(receivables_minor * {{ window_days }}
                / cast(revenue_in_window_minor as decimal(38, 0)), 2) as decimal(12, 2))
    end as dso_days
from combined
