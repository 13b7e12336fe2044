-- Blocking: on every report date and currency, the aging's amount due equals the balance of
-- assets:receivables as the ledger knew it on that date (journal lines effective by the date
-- and recorded by the date). The aging is "as known then", so it is compared with the same
-- knowledge; on the latest date that is the whole journal (see
-- aging_matches_account_balances_daily). Returns the dates and currencies that differ.
with aging as (
    select as_of_date, currency, sum(amount_due_minor) as aging_minor
    from {{ ref('invoice_aging') }}
    group by all
),

dates as (
    select distinct as_of_date from aging
),

receivable_lines as (
    select effective_date, partition_date, currency, debit_minor - credit_minor as net_minor
    from {{ source('ledger_store', 'journal_lines') }}
    where account = 'assets:receivables'
),

ledger as (
    select dates.as_of_date, lines.currency, sum(lines.net_minor) as ledger_minor
    from dates
    join receivable_lines as lines
        on lines.effective_date <= dates.as_of_date
        and lines.partition_date <= dates.as_of_date
    group by all
)

select
    coalesce(aging.as_of_date, ledger.as_of_date) as as_of_date,
    coalesce(aging.currency, ledger.currency) as currency,
    coalesce(aging.aging_minor, 0) as aging_minor,
    coalesce(ledger.ledger_minor, 0) as ledger_minor
from aging
full outer join ledger using (as_of_date, currency)
where coalesce(aging.aging_minor, 0) != coalesce(ledger.ledger_minor, 0)
