"""Deterministic sample world: a merchant's files (events, processors, banks, rates) + truth.

Entry point: `generate_world(inbox, truth_dir, start, end, payments_per_day, seed, ...)`.
The layout of the files and of the ground truth is documented in README.md beside this file.
"""

from billing_pipeline.sample.config import DEFAULT_WORLD, AnomalyRates, WorldSpec
from billing_pipeline.sample.world import WorldSummary, generate_world

__all__ = ["DEFAULT_WORLD", "AnomalyRates", "WorldSpec", "WorldSummary", "generate_world"]
