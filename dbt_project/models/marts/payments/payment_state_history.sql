{{ config(schema='payments') }}

with history as (
    select * from {{ source('ledger_store', 'payment_history') }}
)

select
    payment_id,
    from_state,
    to_state,
    event_id,
    occurred_at
from history
