with source as (
    select * from {{ source('rates', 'rates') }}
)

select
    file_id,
    source_line,
    partition_date,
    rate_date,
    base_currency,
    quote_currency,
    cast(rate as decimal(38, 18)) as rate
from source
