import dagster as dg

from billing_pipeline.defs.partitions import daily_partitions

daily_job = dg.define_asset_job(
    "daily_job",
    selection=dg.AssetSelection.all(),
    partitions_def=daily_partitions,
    description="Every asset for one business date: ingest, transform, audit, publish.",
)

# Each morning at 06:00 in the business time zone (the partitions' zone), run yesterday's
# business date: the last complete partition.
daily_schedule = dg.build_schedule_from_partitioned_job(daily_job, hour_of_day=6, minute_of_hour=0)
