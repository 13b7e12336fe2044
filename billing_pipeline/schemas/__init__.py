"""Pandera contracts for the canonical frames and the one `validate` entry point."""

from billing_pipeline.schemas.validate import validate

__all__ = ["validate"]
