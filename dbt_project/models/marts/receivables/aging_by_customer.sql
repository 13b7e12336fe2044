{{ config(schema='receivables') }}

-- What each customer owes on each report date, per invoice currency: the amount in that
-- currency and, bucket by bucket, in the functional currency at the report date's rate.
with aging as (
    select * from {{ ref('invoice_aging') }}
    where amount_due_minor > 0
)

select
    as_of_date,
    customer_id,
    currency,
    functional_currency,
    count(*) as open_invoices,
    cast(sum(amount_due_minor) as bigint) as amount_due_minor,
    cast(sum(case when days_past_due > 0 then amount_due_minor else 0 end) as bigint)
        as overdue_minor,
    cast(sum(functional_amount_due_minor) as bigint) as functional_amount_due_minor,
    {% for bucket, column in [('current', 'current'), ('1-30', '1_30'), ('31-60', '31_60'),
                              ('61-90', '61_90'), ('90+', '90_plus')] %}
    cast(sum(case when bucket = '{{ bucket }}' then functional_amount_due_minor else 0 end)
        as bigint) as functional_{{ column }}_minor,
    {% endfor %}
    max(days_past_due) as max_days_past_due,
    -- Functional sums are incomplete when a rate was missing for one of the invoices.
    count(*) filter (where functional_amount_due_minor is null) as invoices_without_rate
from aging
group by all
