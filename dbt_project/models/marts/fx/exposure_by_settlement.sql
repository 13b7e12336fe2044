{{ config(schema='fx') }}

-- Open foreign-currency items per date, bucketed by when each is expected to become
-- functional cash: what a treasurer reads to size a hedge. An item is what fx_item names
-- on a journal line (an invoice, a charge, a payout, a bank line); a bank account's balance
-- is one item. Only what is known on the as_of_date dates an item: a settlement line or
-- payout that lands later does not. Amounts are at booking rates (month-end revaluations
-- are left out: they are unrealized and reversed the next day).
with lines as (
    select * from {{ source('ledger_store', 'journal_lines') }}
),

-- Not materialized: DuckDB materializes a CTE read twice, here by the payouts and the
-- settlement lines stored after the copies, and that scan read the payload of every
-- settlement line (5.6-6.2 s for the model against 2.5-2.6 s on a 30-day backfill's store).
events as not materialized (
    select * from {{ source('store', 'events') }}
),

chain_links as (
    -- (its own import: joined through `events`, the one-row lookup below scanned every
    -- stored event's hash, 4 s on the same store)
    select seq, chain_hash from {{ source('store', 'events') }}
),

-- The ledger's typed copies of the events (billing_pipeline/warehouse/ledger_keys.py): a
-- cache the ledger asset writes as it folds, not a dbt source (Dagster would need an asset for
-- it; its lineage is the journal's).
event_copies as (
    select * from ledger_cache.event_keys
),

copies_watermark as (
    select * from ledger_cache.watermark
),

invoices as (
    select invoice_id, due_date from {{ source('ledger_store', 'invoice_states') }}
),

functional as (
    select any_value(functional_currency) as functional_currency from lines
),

item_moves as (
    select
        lines.account,
        lines.currency,
        coalesce(lines.fx_item, 'account:' || lines.account) as fx_item,
        lines.effective_date,
        sum(lines.debit_minor - lines.credit_minor) as net_minor,
        sum(lines.functional_debit_minor - lines.functional_credit_minor) as functional_net_minor
    from lines
    cross join functional
    where lines.currency != functional.functional_currency
        and lines.fact_type not like 'fx.revaluation%'
        and (
            lines.account like 'assets:receivables%'
            or lines.account like 'assets:processor_clearing:%'
            or lines.account like 'assets:cash_in_transit%' or lines.account like 'assets:bank:%'
            or lines.account like 'assets:suspense%'
            or lines.account like 'liabilities:customer_credit%'
        )
    group by all
),

item_balances as (
    -- Each movement's running balance holds until the item's next movement.
    select
        account, currency, fx_item,
        effective_date as valid_from,
        lead(effective_date) over item_days as valid_until,
        sum(net_minor) over running as open_amount_minor,
        sum(functional_net_minor) over running as functional_amount_minor,
        max(effective_date) over running as last_moved_on
    from item_moves
    window
        item_days as (partition by account, currency, fx_item order by effective_date),
        running as (
            partition by account, currency, fx_item order by effective_date
            rows between unbounded preceding and current row
        )
),

spine as (
    select cast(day as date) as as_of_date
    from range(
        (select min(effective_date) from lines),
        (select max(effective_date) from lines) + interval 1 day,
        interval 1 day
    ) as days(day)
),

open_items as (
    select spine.as_of_date, item_balances.*
    from item_balances
    join spine
        on spine.as_of_date >= item_balances.valid_from
        and (item_balances.valid_until is null or spine.as_of_date < item_balances.valid_until)
    where item_balances.open_amount_minor != 0 or item_balances.functional_amount_minor != 0
),

copied_through as (
    -- The ledger's typed copies hold every stored event up to their watermark. They are read
    -- only when this code's extraction made them (the environment names it) and the store
    -- still holds the watermark's event and chain hash: a store replaced since, or copies made
    -- by an older release and not yet rebuilt by a ledger run, are passed over for the
    -- payloads. (The ledger's own rule, event_copies._valid_watermark, also counts the events
    -- up to the watermark; here that count took 1.2-2.3 s of a ~3 s model, for an append-only
    -- store whose chain the event store's check verifies every run.)
    select coalesce(max(w.seq), 0) as seq
    from copies_watermark as w
    inner join chain_links as e on e.seq = w.seq and e.chain_hash = w.chain_hash
    where w.extraction = '{{ env_var("BILLING_LEDGER_KEYS_EXTRACTION", "") }}'
),

settlement_fields as (
    -- Each line's processor, payout and available-on date: typed in the copies, and parsed
    -- from the payloads of the lines stored after them (once each: three ->> parsed it three
    -- times). Reading every settlement line's payload from disk was this model's cost: 7.0 s
    -- of the 1M-payment day's dbt run, 10.0 s at the end of a 30-day backfill.
    select processor, payout_ref, available_on, business_date
    from event_copies
    where event_type like 'settlement.%' and seq <= (select seq from copied_through)
    union all
    select f[1], f[2], try_cast(f[3] as date), business_date
    from (
        select
            business_date,
            json_extract_string(payload, ['processor', 'payout_ref', 'available_on']) as f
        from events
        where event_type like 'settlement.%' and seq > (select seq from copied_through)
    )
),

settlement_lines as (
    -- One row per payout and day known, its latest available-on date: the lateral join below
    -- takes the max over these, the same as over the lines.
    select
        'payout:' || processor || ':' || payout_ref as fx_item,
        business_date as known_on,
        max(coalesce(available_on, business_date)) as available_on
    from settlement_fields
    group by all
),

payouts as (
    select
        'payout:' || (payload ->> 'processor') || ':' || (payload ->> 'payout_ref') as fx_item,
        business_date as known_on,
        coalesce(try_cast(payload ->> 'arrival_date' as date), business_date) as arrival_date
    from events
    where event_type = 'payout.sent'
),

dated as (
    select
        open_items.*,
        case
            when account like 'assets:bank:%' or account like 'assets:suspense%' then 'cash'
            when account like 'liabilities:customer_credit%' then 'on_demand'
            when account like 'assets:receivables%' and invoices.due_date is not null
                then 'invoice_due_date'
            when account like 'assets:cash_in_transit%' and payout.arrival_date is not null
                then 'payout_arrival_date'
            when account like 'assets:processor_clearing:%' and settled.available_on is not null
                then 'settlement_available_on'
            when account like 'assets:processor_clearing:%' or account like 'assets:cash_in_transit%'
                then 'estimated_payout_lag'
            else 'undated'
        end as expected_basis,
        invoices.due_date,
        payout.arrival_date,
        settled.available_on
    from open_items
    left join invoices
        on open_items.fx_item = 'invoice:' || invoices.invoice_id
    left join lateral (
        select max(payouts.arrival_date) as arrival_date from payouts
        where payouts.fx_item = open_items.fx_item and payouts.known_on <= open_items.as_of_date
    ) as payout on true
    left join lateral (
        select max(settlement_lines.available_on) as available_on from settlement_lines
        where settlement_lines.fx_item = open_items.fx_item
            and settlement_lines.known_on <= open_items.as_of_date
    ) as settled on true
),

expected as (
    select
        *,
        case expected_basis
            when 'cash' then as_of_date
            when 'on_demand' then as_of_date
            when 'invoice_due_date' then due_date
            when 'payout_arrival_date' then arrival_date
            when 'settlement_available_on' then available_on
            when 'estimated_payout_lag' then cast(
                {{ dbt.dateadd('day', var('fx_expected_payout_lag_days', 2), 'last_moved_on') }}
                as date)
        end as expected_on
    from dated
)

select
    as_of_date,
    currency,
    case
        when account like 'assets:receivables%' then 'receivables'
        when account like 'assets:processor_clearing%' then 'processor_clearing'
        when account like 'assets:cash_in_transit%' then 'cash_in_transit'
        when account like 'assets:bank:%' then 'bank'
        when account like 'assets:suspense%' then 'suspense'
        else 'customer_credit'
    end as exposure_kind,
    case
        when expected_basis in ('cash', 'on_demand') then 'now'
        when expected_on is null then 'undated'
        when expected_on < as_of_date then 'overdue'
        when {{ dbt.datediff('as_of_date', 'expected_on', 'day') }} <= 7 then '0-7d'
        when {{ dbt.datediff('as_of_date', 'expected_on', 'day') }} <= 30 then '8-30d'
        when {{ dbt.datediff('as_of_date', 'expected_on', 'day') }} <= 90 then '31-90d'
        else '90d+'
    end as settlement_bucket,
    expected_basis,
    count(*) as open_items,
    min(expected_on) as earliest_expected_on,
    max(expected_on) as latest_expected_on,
    cast(sum(open_amount_minor) as bigint) as open_amount_minor,
    cast(sum(functional_amount_minor) as bigint) as functional_amount_minor
from expected
group by all
