"""Dagster wiring: thin assets, checks, jobs, schedules and resources. Logic lives elsewhere."""
