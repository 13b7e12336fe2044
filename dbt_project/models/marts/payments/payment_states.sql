{{ config(schema='payments') }}

with states as (
    select * from {{ source('ledger_store', 'payment_states') }}
)

select
    payment_id,
    state,
    state_since,
    amount_authorized_minor,
    amount_captured_minor,
    amount_refunded_minor,
    amount_disputed_minor,
    currency,
    processor,
    processor_ref,
    invoice_id,
    customer_id
from states
