-- A view: this mart renames columns of a table the pipeline already wrote; copying it
-- (a million lines at 100k payments a day) would cost a write per run for nothing.
-- publish copies it into analytics.duckdb as a table like every other relation.
{{ config(schema='payments', materialized='view') }}

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
