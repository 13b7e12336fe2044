"""Render benchmarks/results/*.json as the markdown tables of RESULTS.md."""

from __future__ import annotations

import json
from pathlib import Path
from statistics import linear_regression

# Stages of the issue, plus what dbt builds for none of them and dbt's own start-up.
STAGE_ORDER = (
    "ingest", "event_store", "recon", "ledger", "receivables", "fx", "publish",
    "dbt_staging", "dbt_overhead",
)  # fmt: skip


# The daily job's steps in the order they run, for the CPU table (results since session 42).
STEP_ORDER = (
    "ingest", "store__events", "ledger_store__fx_rates", "reconciliation", "ledger",
    "dbt_models", "analytics",
)  # fmt: skip


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    return f"{seconds:.1f}" if seconds >= 1 else f"{seconds:.2f}"


def _floors(record: dict) -> list[float]:
    """The fastest floor read before the measured run (results since session 20) and after."""
    sides = (record.get("floor_before"), record["floor"])
    return [min(side["seconds"]) for side in sides if side]


def _ratio(wall: float, floors: list[float]) -> str:
    low, high = wall / max(floors), wall / min(floors)
    return f"{low:.0f}x" if round(low) == round(high) else f"{low:.0f}-{high:.0f}x"


def render(paths: list[Path]) -> str:
    records = [{**json.loads(p.read_text()), "name": p.stem} for p in paths]
    days = sorted(
        (r for r in records if r["scenario"] == "day"),
        key=lambda r: (r["payments_per_day"], r["name"]),
    )
    out = [
        "| results file | payments/day | events lines | input MB | wall s | CPU s | "
        "peak RSS MiB | " + " | ".join(STAGE_ORDER) + " | floor s (before / after) | wall/floor |",
        "|" + "---|" * (9 + len(STAGE_ORDER)),
    ]
    for r in days:
        run, floor = r["run"], r["floor"]
        floors = _floors(r)
        if run.get("days"):
            stages = " | ".join(_fmt(run["days"][-1]["stages"].get(s)) for s in STAGE_ORDER)
        else:  # the measured run died (e.g. killed for memory): no stage timings
            stages = f"exit {run['usage']['returncode']}" + " |" * (len(STAGE_ORDER) - 1)
        out.append(
            f"| {r['name']} | {r['payments_per_day']:,} | {floor['rows'].get('events', 0):,} | "
            f"{floor['bytes'] / 1e6:.0f} | {_fmt(run['usage']['wall'])} | "
            f"{_fmt(run['usage']['cpu'])} | {run['usage']['peak_rss_mib']:.0f} | {stages} | "
            f"{' / '.join(_fmt(f) for f in floors)} | {_ratio(run['usage']['wall'], floors)} |"
        )
    out += [
        "",
        "| results file | payments/day | recon stage s | lean SQL s | pandas s (+ load) | "
        "recon/lean | pandas/recon | leg 1 matches | leg 2 ref + amount/date |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in (r for r in days if r["run"].get("days")):
        # The reconciliation step alone: the "recon" stage also holds dbt's recon marts.
        last = r["run"]["days"][-1]
        arms, recon = r["arms"], last["steps"].get("reconciliation", last["stages"].get("recon"))
        if recon is None:  # the run failed before its recon step: nothing to compare
            continue
        lean, pandas = min(arms["lean_sql_seconds"]), min(arms["pandas_seconds"])
        out.append(
            f"| {r['name']} | {r['payments_per_day']:,} | {_fmt(recon)} | {_fmt(lean)} | "
            f"{_fmt(pandas)} "
            f"(+{_fmt(arms['pandas_load_seconds'])}) | {recon / lean:.0f}x | "
            f"{pandas / recon:.2f}x | {arms['leg1'][0]:,} | "
            f"{arms['leg2_reference'][0]} + {arms['leg2_amount_date'][0]} |"
        )
    out += _cpu_by_step(days)
    backfills = [r for r in records if r["scenario"] == "backfill"]
    if backfills:
        out += [
            "",
            "| results file | backfill | wall s | CPU s | peak RSS MiB | first day s "
            "| last day s |",
            "|---|---|---|---|---|---|---|",
        ]
        for r in backfills:
            # A backfill stopped early (killed) kept no usage of the whole run.
            per_day = r["run"]["days"]
            usage = r["run"].get("usage", {"wall": None, "cpu": None, "peak_rss_mib": None})
            # A backfill stopped early has no whole-run usage, only the dates it measured.
            done = f" (stopped after {len(per_day)})" if "stopped_after" in r else ""
            rss = usage["peak_rss_mib"]
            out.append(
                f"| {r['name']} | {r['days']} days × {r['payments_per_day']:,}{done} | "
                f"{_fmt(usage['wall'] or sum(d['wall'] for d in per_day))} | "
                f"{_fmt(usage['cpu'])} | {'–' if rss is None else f'{rss:.0f}'} | "
                f"{_fmt(per_day[0]['wall'])} | {_fmt(per_day[-1]['wall'])} |"
            )
        out += _growth(backfills)
    return "\n".join(out)


def _cpu_by_step(days: list[dict]) -> list[str]:
    """Each step's CPU seconds against its wall seconds on the measured day: on two cores a
    step near 2x keeps both busy, one near 1x waits on a single thread."""
    rows = []
    for r in days:
        last = (r["run"].get("days") or [{}])[-1]
        cpu, wall = last.get("cpu_seconds_by_step"), last.get("steps", {})
        if not cpu:
            continue
        cells = (
            f"{_fmt(cpu[step])} / {_fmt(wall[step])}" if step in cpu and step in wall else "–"
            for step in STEP_ORDER
        )
        rows.append(f"| {r['name']} | " + " | ".join(cells) + " |")
    if not rows:
        return []
    return [
        "",
        "| results file (CPU s / wall s) | " + " | ".join(STEP_ORDER) + " |",
        "|" + "---|" * (1 + len(STEP_ORDER)),
        *rows,
    ]


# A step's cost per date of history is what a long-lived warehouse pays: the per-date tables
# above show a backfill's dates, not the trend a year of daily runs would follow.
GROWTH_DATES = 365


def growth(per_day: list[dict]) -> dict[str, tuple[float, float, int]]:
    """For each step that ran on every date before the last (which runs the whole chain):
    the least-squares line of its seconds against the date's number, as (seconds at date 1,
    seconds added per date, dates fitted). Needs three dates."""
    fitted = per_day[:-1]
    if len(fitted) < 3:
        return {}
    steps = set.intersection(*(set(d.get("steps", {})) for d in fitted))
    dates = list(range(1, len(fitted) + 1))
    lines = {}
    for step in sorted(steps):
        slope, intercept = linear_regression(dates, [d["steps"][step] for d in fitted])
        lines[step] = (intercept + slope, slope, len(fitted))
    return lines


def _growth(backfills: list[dict]) -> list[str]:
    rows = []
    for r in backfills:
        for step, (first, slope, dates) in growth(r["run"]["days"]).items():
            at_year = first + slope * (GROWTH_DATES - 1)
            rows.append(
                f"| {r['name']} | {step} | {dates} | {_fmt(first)} | {slope:+.2f} | "
                f"{_fmt(at_year)} |"
            )
    if not rows:
        return []
    return [
        "",
        "| results file | step | dates fitted | fit at date 1 s | s per date of history "
        f"| fit extrapolated to date {GROWTH_DATES} s |",
        "|---|---|---|---|---|---|",
        *rows,
    ]
