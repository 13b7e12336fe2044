-- Every entry balances per currency and in the functional currency, with two lines or more.
with per_currency as (
    select entry_id, currency, sum(debit_minor) - sum(credit_minor) as imbalance
    from {{ ref('journal_lines') }}
    group by all
),

per_entry as (
    select entry_id, count(*) as line_count,
        sum(functional_debit_minor) - sum(functional_credit_minor) as functional_imbalance
    from {{ ref('journal_lines') }}
    group by all
)

select per_entry.entry_id, per_currency.currency, imbalance, functional_imbalance, line_count
from per_entry
join per_currency using (entry_id)
where imbalance != 0 or functional_imbalance != 0 or line_count < 2
