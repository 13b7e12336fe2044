with source as (
    select * from {{ source('bank', 'bank_lines') }}
)

select
    file_id,
    source_line,
    partition_date,
    bank_format,
    account_id,
    statement_id,
    entry_ref,
    end_to_end_ref,
    booking_date,
    value_date,
    currency,
    amount_minor,
    case when amount_minor >= 0 then 'credit' else 'debit' end as direction,
    tx_code,
    counterparty,
    remittance_info
from source
