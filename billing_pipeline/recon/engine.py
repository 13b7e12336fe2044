"""reconcile(): the three legs, discrepancies, resolutions, decisions and metrics for one date.

Everything runs as set-based SQL in temp tables of the caller's connection; the only Python
loops are over rules and resolution lines. The result depends only on the store's events with
`business_date <= as_of`, the rule set, the resolution files and earlier runs' slices
(`detected_on`), never on thread count, time zone or wall clock.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path

import duckdb

from billing_pipeline.recon import (
    carry,
    history,
    items,
    legs,
    matcher,
    outputs,
    resolutions,
    scope,
    sources,
    store,
)
from billing_pipeline.recon.criteria import install_macros
from billing_pipeline.recon.rules import LEGS, RuleSet

LEG_ORDER = ("ledger_processor", "processor_bank", "bank_invoice")
assert set(LEG_ORDER) == set(LEGS)


@dataclass
class ReconReport:
    as_of: date
    run_id: str
    rules_version: str
    matches_by_leg: dict[str, int]
    match_rate: dict[str, Decimal]
    open_by_type: dict[str, int]
    pending_by_type: dict[str, int]
    metrics: list[dict] = field(default_factory=list)
    rejected_resolutions: list[dict] = field(default_factory=list)


def reconcile(
    conn: duckdb.DuckDBPyConnection,
    as_of: date,
    rules: RuleSet,
    run_id: str,
    resolutions_dir: str | Path | None = None,
    write: bool = True,
) -> ReconReport:
    """Reconcile everything known as of `as_of`; with `write`, replace that date's slice."""
    compute(conn, as_of, rules, run_id, resolutions.read_resolutions(resolutions_dir))
    if write:
        store.write_slice(conn, as_of)
    return _report(conn, as_of, rules, run_id)


def compute(conn, as_of: date, rules: RuleSet, run_id: str, found: list) -> None:
    """Build the `recon_out_<table>` temp tables for `as_of` (nothing is written)."""
    store.ensure_tables(conn)
    install_macros(conn)
    items.refresh(conn)
    outputs.load_resolutions(conn, found, as_of)
    carrying = scope.scope_run(conn, as_of, rules)
    history.load_for_resolutions(conn, as_of)
    sources.load_sources(conn, as_of, scoped=carrying)
    conn.execute(legs.ITEMS)
    matcher.reset_work(conn)
    legs.prepare(conn)
    outputs.manual_matches(conn, as_of)
    carry.carry_matches(conn, carrying)
    legs.after_rule(conn, "bank_invoice")
    for leg in LEG_ORDER:
        for rule in rules.for_leg(leg):
            matcher.run_rule(conn, rule)
            legs.after_rule(conn, leg)
        if leg == "ledger_processor":
            legs.ledger_processor(conn, rules, as_of)
        elif leg == "processor_bank":
            legs.processor_bank(conn, rules, as_of)
        else:
            legs.bank_invoice(conn, rules, as_of)
    legs.payout_lines(conn)
    legs.ambiguous(conn)
    outputs.matches(conn, as_of, rules.version, run_id)
    outputs.discrepancies(conn, as_of, rules, run_id)
    outputs.decisions(conn, as_of, run_id)
    outputs.metrics(conn, as_of, run_id)
    matcher.execute(
        conn,
        carry.MARK,
        {"as_of": as_of, "rules_version": rules.version, "engine": scope.ENGINE, "run": run_id},
    )


def _report(conn, as_of: date, rules: RuleSet, run_id: str) -> ReconReport:
    # (counted without the view's join of every carried match with its stored content)
    by_leg = dict(
        conn.execute(
            "select leg, count(*) from (select leg from recon_made_matches union all "
            "select 'ledger_processor' from recon_carried) group by leg"
        ).fetchall()
    )
    rate = dict(
        conn.execute(
            "select leg, value from recon_out_metrics where metric = 'match_rate'"
        ).fetchall()
    )
    counts = conn.execute(
        "select status, type, count(*) from recon_out_discrepancies "
        "where status in ('open', 'pending') group by all"
    ).fetchall()
    metric_rows = conn.execute("select * exclude (run_id) from recon_out_metrics").fetchall()
    columns = [d[0] for d in conn.description]
    rejected = conn.execute(
        "select file, line, discrepancy_id, action, reason from recon_out_resolutions_log "
        "where outcome = 'rejected' order by file, line"
    ).fetchall()
    return ReconReport(
        as_of=as_of,
        run_id=run_id,
        rules_version=rules.version,
        matches_by_leg=by_leg,
        match_rate=rate,
        open_by_type={t: n for s, t, n in counts if s == "open"},
        pending_by_type={t: n for s, t, n in counts if s == "pending"},
        metrics=[dict(zip(columns, row, strict=True)) for row in metric_rows],
        rejected_resolutions=[
            dict(zip(("file", "line", "discrepancy_id", "action", "reason"), r, strict=True))
            for r in rejected
        ],
    )


def apply_resolutions(
    conn: duckdb.DuckDBPyConnection,
    as_of: date,
    rules: RuleSet,
    resolutions_dir: str | Path,
    run_id: str,
) -> ReconReport:
    """What `billing-pipeline resolve` runs: re-reconcile `as_of` with the resolution files."""
    return reconcile(conn, as_of, rules, run_id, resolutions_dir=resolutions_dir)
