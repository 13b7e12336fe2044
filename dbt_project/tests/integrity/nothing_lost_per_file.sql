-- Nothing lost, nothing counted twice: for every landed file, the rows it read equal the rows
-- actually staged in raw.* plus the rows actually in quarantine. Returns offending files.
with registry as (
    select * from {{ ref('file_registry') }}
    where status in ('landed', 'unreadable')
),

staged as (
    select file_id, partition_date, count(*) as n from (
        select file_id, partition_date from {{ ref('stg_stripe__settlement_lines') }}
        union all select file_id, partition_date from {{ ref('stg_adyen__settlement_lines') }}
        union all select file_id, partition_date from {{ ref('stg_stripe__payouts') }}
        union all select file_id, partition_date from {{ ref('stg_adyen__payouts') }}
        union all select file_id, partition_date from {{ ref('stg_bank__lines') }}
        union all select file_id, partition_date from {{ ref('stg_bank__balances') }}
        union all select file_id, partition_date from {{ ref('stg_events__billing_events') }}
        union all select file_id, partition_date from {{ ref('stg_rates__rates') }}
    )
    group by all
),

quarantined as (
    select file_id, partition_date, count(*) as n
    from {{ ref('quarantine') }}
    where stage in ('parse', 'validate')
    group by all
)

select
    registry.path,
    registry.rows_read,
    registry.rows_staged,
    registry.rows_quarantined,
    coalesce(staged.n, 0) as rows_in_staging,
    coalesce(quarantined.n, 0) as rows_in_quarantine
from registry
left join staged using (file_id, partition_date)
left join quarantined using (file_id, partition_date)
where registry.rows_read != registry.rows_staged + registry.rows_quarantined
   or registry.rows_staged != coalesce(staged.n, 0)
   or registry.rows_quarantined != coalesce(quarantined.n, 0)
