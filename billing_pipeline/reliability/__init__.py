"""Reliability helpers: the run lock, masking of bank accounts, safe CSV export, and the
DuckDB settings (threads, memory cap) of the warehouse connections."""
