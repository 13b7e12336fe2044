"""Reconciliation: ledger <-> processor <-> bank, as set-based DuckDB SQL with versioned rules."""

from billing_pipeline.recon.diff import diff_rule_versions
from billing_pipeline.recon.engine import ReconReport, apply_resolutions, reconcile
from billing_pipeline.recon.rules import RuleError, RuleSet, load_rules, parse_rules

__all__ = [
    "ReconReport",
    "RuleError",
    "RuleSet",
    "apply_resolutions",
    "diff_rule_versions",
    "load_rules",
    "parse_rules",
    "reconcile",
]
