{{ config(schema='receivables') }}

-- Dunning: invoices that moved into an older aging bucket on the report date (from_bucket is
-- their bucket the day before; null when the invoice was not known yet). Filter on
-- as_of_date = the report date to get the day's dunning run.
with aging as (
    select * from {{ ref('invoice_aging') }}
),

ranked as (
    select
        *,
        case bucket
            when 'current' then 0 when '1-30' then 1 when '31-60' then 2 when '61-90' then 3
            else 4
        end as bucket_rank
    from aging
)

select
    today.as_of_date,
    today.invoice_id,
    today.customer_id,
    today.currency,
    yesterday.bucket as from_bucket,
    today.bucket as to_bucket,
    today.days_past_due,
    today.due_date,
    today.amount_due_minor,
    today.functional_currency,
    today.functional_amount_due_minor
from ranked as today
left join ranked as yesterday
    on yesterday.invoice_id = today.invoice_id
    and yesterday.as_of_date = today.as_of_date - interval 1 day
where today.amount_due_minor > 0
    and today.bucket_rank > coalesce(yesterday.bucket_rank, 0)
