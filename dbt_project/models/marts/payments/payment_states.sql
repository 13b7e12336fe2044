-- A view: this mart renames columns of a table the pipeline already wrote; copying it
-- (a million lines at 100k payments a day) would cost a write per run for nothing.
-- publish copies it into analytics.duckdb as a table like every other relation.
{{ config(schema='payments', materialized='view') }}

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
