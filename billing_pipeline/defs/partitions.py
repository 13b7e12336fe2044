import dagster as dg

from billing_pipeline import settings

# One partition per business date, in the configured business time zone.
daily_partitions = dg.DailyPartitionsDefinition(
    start_date=settings.partitions_start(),
    timezone=settings.business_timezone(),
)
