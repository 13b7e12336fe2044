-- A view: this mart renames columns of a table the pipeline already wrote; copying it
-- (a million lines at 100k payments a day) would cost a write per run for nothing.
-- publish copies it into analytics.duckdb as a table like every other relation.
{{ config(schema='ledger', materialized='view') }}

with lines as (
    select * from {{ source('ledger_store', 'journal_lines') }}
)

select
    fact_id as entry_id,
    line_no,
    event_id,
    fact_type as entry_type,
    effective_date,
    account,
    currency,
    debit_minor,
    credit_minor,
    functional_currency,
    functional_debit_minor,
    functional_credit_minor,
    rate,
    rate_date,
    rate_source,
    rules_version,
    source_file,
    source_line
from lines
