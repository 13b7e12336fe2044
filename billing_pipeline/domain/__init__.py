"""Pure domain logic: money, currencies, lifecycles, posting rules. No Dagster, no DuckDB."""
