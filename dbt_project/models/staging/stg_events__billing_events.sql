with source as (
    select * from {{ source('events', 'billing_events') }}
)

select
    file_id,
    source_line,
    partition_date,
    event_id,
    type as event_type,
    occurred_at,
    payment_id,
    invoice_id,
    customer_id,
    amount_minor,
    currency,
    processor,
    processor_ref,
    due_date,
    payload
from source
