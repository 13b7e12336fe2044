"""Reliability helpers: the run lock, masking of bank accounts, safe CSV export, DuckDB threads."""
