with source as (
    select * from {{ source('adyen', 'payouts') }}
)

select
    file_id,
    source_line,
    partition_date,
    processor,
    payout_ref,
    bank_reference,
    created_at,
    arrival_date,
    currency,
    amount_minor
from source
