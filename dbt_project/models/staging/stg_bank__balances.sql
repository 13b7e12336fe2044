with source as (
    select * from {{ source('bank', 'bank_balances') }}
)

select
    file_id,
    source_line,
    partition_date,
    bank_format,
    account_id,
    statement_id,
    balance_type,
    as_of_date,
    currency,
    amount_minor
from source
