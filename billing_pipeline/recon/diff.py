"""Compare two rule sets on the same data without touching the stored tables."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import duckdb

from billing_pipeline.recon import engine
from billing_pipeline.recon.rules import RuleSet

_MATCH_COLUMNS = "leg, left_refs, right_refs, amount_minor, currency"
_DISCREPANCY_COLUMNS = "discrepancy_id, leg, type, reference, amount_minor, currency, status"


@dataclass(frozen=True)
class RuleDiff:
    only_in_a_matches: list[tuple]
    only_in_b_matches: list[tuple]
    only_in_a_discrepancies: list[tuple]
    only_in_b_discrepancies: list[tuple]

    @property
    def identical(self) -> bool:
        return not (self.only_in_a_matches or self.only_in_b_matches
                    or self.only_in_a_discrepancies or self.only_in_b_discrepancies)  # fmt: skip


def _snapshot(conn, as_of: date, rules: RuleSet) -> tuple[set[tuple], set[tuple]]:
    engine.compute(conn, as_of, rules, "diff", [])
    matches = conn.execute(f"select {_MATCH_COLUMNS} from recon_out_matches").fetchall()
    found = conn.execute(f"select {_DISCREPANCY_COLUMNS} from recon_out_discrepancies").fetchall()
    return {_hashable(r) for r in matches}, {_hashable(r) for r in found}


def _hashable(row: tuple) -> tuple:
    return tuple(tuple(v) if isinstance(v, list) else v for v in row)


def diff_rule_versions(
    conn: duckdb.DuckDBPyConnection, as_of: date, rules_a: RuleSet, rules_b: RuleSet
) -> RuleDiff:
    """Which pairings (leg, refs) and discrepancies each rule set alone produces."""
    matches_a, found_a = _snapshot(conn, as_of, rules_a)
    matches_b, found_b = _snapshot(conn, as_of, rules_b)
    return RuleDiff(
        sorted(matches_a - matches_b, key=repr),
        sorted(matches_b - matches_a, key=repr),
        sorted(found_a - found_b, key=repr),
        sorted(found_b - found_a, key=repr),
    )
