{{ config(schema='receivables') }}

-- Invoice x report date, as known on that date: each invoice's version valid on the date
-- (invoice_versions), aged against its due date. An invoice is listed while it is draft, open
-- or partially paid, and once more on the date it became paid, void or written off.
with versions as (
    select * from {{ ref('invoice_versions') }}
),

functional as (
    select * from {{ ref('functional_amounts_due') }}
),

events as (
    select * from {{ source('store', 'events') }}
),

spine as (
    select cast(day as date) as as_of_date
    from range(
        (select min(known_from) from versions),
        (select max(partition_date) from events) + interval 1 day,
        interval 1 day
    ) as days(day)
),

known as (
    select spine.as_of_date, versions.*
    from versions
    join spine
        on spine.as_of_date >= versions.known_from
        and (versions.valid_to is null or spine.as_of_date < versions.valid_to)
    where versions.state in ('draft', 'open', 'partially_paid')
        or (spine.as_of_date = versions.known_from
            and versions.previous_state is distinct from versions.state)
),

aged as (
    select
        *,
        case
            when state in ('open', 'partially_paid') and due_date < as_of_date
                then {{ dbt.datediff('due_date', 'as_of_date', 'day') }}
            else 0
        end as days_past_due
    from known
)

select
    aged.as_of_date,
    aged.invoice_id,
    aged.customer_id,
    aged.currency,
    aged.amount_due_minor,
    aged.days_past_due,
    case
        when aged.days_past_due = 0 then 'current'
        when aged.days_past_due <= 30 then '1-30'
        when aged.days_past_due <= 60 then '31-60'
        when aged.days_past_due <= 90 then '61-90'
        else '90+'
    end as bucket,
    case when aged.days_past_due > 0 then 'overdue' else aged.state end as state,
    aged.due_date,
    aged.amount_minor,
    aged.paid_minor,
    aged.credited_minor,
    aged.written_off_minor,
    aged.customer_credit_minor,
    '{{ env_var("BILLING_FUNCTIONAL_CURRENCY", "USD") }}' as functional_currency,
    case
        when aged.amount_due_minor = 0 then 0
        else functional.functional_amount_minor
    end as functional_amount_due_minor,
    functional.rate,
    functional.rate_date,
    aged.known_from
from aged
left join functional
    on functional.as_of_date = aged.as_of_date
    and functional.currency = aged.currency
    and functional.amount_minor = aged.amount_due_minor
