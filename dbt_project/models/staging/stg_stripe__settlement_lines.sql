with source as (
    select * from {{ source('stripe', 'settlement_lines') }}
)

select
    file_id,
    source_line,
    partition_date,
    processor,
    line_ref,
    line_type,
    processor_ref,
    merchant_ref,
    payout_ref,
    occurred_at,
    available_on,
    currency,
    gross_minor,
    fee_minor,
    net_minor,
    original_currency,
    original_minor,
    exchange_rate,
    description
from source
