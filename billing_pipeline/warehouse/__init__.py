"""DuckDB side of the platform: table layout, file registry, landing. No Dagster imports."""
