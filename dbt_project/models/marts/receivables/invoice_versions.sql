{{ config(materialized='view') }}

-- The versions without the incremental build's bookkeeping (built_through_seq, fold_version),
-- which depends on how many builds a history took, not on the history.
select * exclude (built_through_seq, fold_version)
from {{ ref('int_invoice_versions') }}
