"""`python -m benchmarks`: worlds at scale, end-to-end and per-stage timings, reference arms.

    python -m benchmarks day --payments 100000            # 3-day world, time its last day
    python -m benchmarks backfill --payments 100000 --days 30
    python -m benchmarks table                             # results/*.json -> RESULTS.md table

Worlds go under --root (default /tmp/bench), never into the repo; results (JSON) into
benchmarks/results/. See benchmarks/README.md.
"""

from __future__ import annotations

import json
import platform
import shutil
import sys
from datetime import date, timedelta
from pathlib import Path

import click

from benchmarks.measure import REPO, python_module, run_measured
from benchmarks.memory import cpu_by_window, peaks_by_window

RESULTS = REPO / "benchmarks" / "results"
START = date(2026, 10, 5)


def _world(root: Path, payments: int, days: int, seed: int) -> tuple[Path, dict]:
    """Generate (once) a world under root; return its folder and the generator's usage."""
    folder = root / f"w{payments}x{days}"
    marker = folder / "generated.json"
    if marker.exists():
        return folder, json.loads(marker.read_text())
    end = START + timedelta(days=days - 1)
    usage = run_measured(
        python_module(
            "billing_pipeline.cli", "generate", "--from", START.isoformat(), "--to",
            end.isoformat(), "--payments-per-day", str(payments), "--seed", str(seed),
            "--inbox", str(folder / "inbox"), "--warehouse", str(folder / "warehouse"),
        ),
        log=root / f"generate-{payments}x{days}.log",
    ).usage  # fmt: skip
    if usage.returncode:
        raise click.ClickException(f"generate failed, see {root}/generate-{payments}x{days}.log")
    record = {"usage": usage.as_dict(), "inbox_bytes": _size(folder / "inbox")}
    marker.write_text(json.dumps(record))
    return folder, record


def _fresh_warehouse(folder: Path) -> None:
    """Every measurement starts from no warehouse: a stale one would make runs no-ops."""
    shutil.rmtree(folder / "warehouse", ignore_errors=True)


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def _run_days(folder: Path, first: date, last: date, tag: str) -> dict:
    """One child process runs business dates first..last; returns usage and stage seconds."""
    env = {
        "BILLING_INBOX": str(folder / "inbox"),
        "BILLING_WAREHOUSE": str(folder / "warehouse"),
        "BILLING_RESOLUTIONS": str(folder / "resolutions"),  # none: keeps runs comparable
        "DAGSTER_HOME": "",
    }
    (folder / "warehouse").mkdir(parents=True, exist_ok=True)
    stages_json = folder / f"stages-{tag}.json"
    measured = run_measured(
        python_module("benchmarks.stages", first.isoformat(), last.isoformat(), str(stages_json)),
        env=env,
        log=folder / f"run-{tag}.log",
    )
    stages = json.loads(stages_json.read_text()) if stages_json.exists() else {}
    for day in stages.get("days", []):
        windows = {step: tuple(span) for step, span in day.pop("windows", {}).items()}
        day["peak_rss_mib_by_step"] = peaks_by_window(measured.samples, windows)
        day["cpu_seconds_by_step"] = cpu_by_window(measured.samples, windows)
    return {"usage": measured.usage.as_dict(), **stages}


def _direct_days(folder: Path, first: date, last: date) -> dict:
    """Land and append earlier days with the warehouse functions (no recon, ledger, dbt)."""
    days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
    (folder / "warehouse").mkdir(parents=True, exist_ok=True)
    usage = run_measured(
        python_module(
            "benchmarks.direct",
            str(folder / "inbox"),
            str(folder / "warehouse" / "billing.duckdb"),
            *(d.isoformat() for d in days),
        ),
        log=folder / "run-warm-direct.log",
    ).usage
    return {"usage": usage.as_dict(), "log": (folder / "run-warm-direct.log").read_text()}


def _arms(folder: Path, as_of: date, repeats: int) -> dict:
    import duckdb

    from benchmarks.recon_arms import lean_sql, pandas_script

    conn = duckdb.connect(str(folder / "warehouse" / "billing.duckdb"), read_only=True)
    conn.execute("set timezone = 'UTC'")
    conn.execute("set enable_progress_bar = false")
    runs = {"lean_sql": [], "pandas": []}
    results = {}
    for _ in range(repeats):
        for name, arm in (("lean_sql", lean_sql), ("pandas", pandas_script)):
            result = arm(conn, as_of)
            runs[name].append(result.seconds)
            results[name] = result
    sql, pd = results["lean_sql"], results["pandas"]
    if sql.totals() != pd.totals():
        raise click.ClickException(f"arms disagree: sql {sql.totals()} pandas {pd.totals()}")
    has_recon = conn.execute(
        "select count(*) from information_schema.tables where table_schema = 'recon_store'"
    ).fetchone()[0]
    recon = (
        dict(
            conn.execute(
                "select rule_id, count(*) from recon_store.matches where as_of = ? group by 1",
                [as_of],
            ).fetchall()
        )
        if has_recon
        else {}
    )
    conn.close()
    return {
        "lean_sql_seconds": runs["lean_sql"],
        "pandas_seconds": runs["pandas"],
        "pandas_load_seconds": pd.load_seconds,
        "leg1": sql.leg1,
        "leg2_reference": sql.leg2_reference,
        "leg2_amount_date": sql.leg2_amount_date,
        "pipeline_matches_by_rule": recon,
    }


def _floor(folder: Path, day: date, repeats: int) -> dict:
    from benchmarks.floor import read_floor

    results = [read_floor(folder / "inbox", day) for _ in range(repeats)]
    return {
        "seconds": [r.seconds for r in results],
        "rows": results[0].rows,
        "bytes": results[0].bytes_read,
    }


_KNOBS = (
    "BILLING_DUCKDB_MEMORY_LIMIT",
    "BILLING_LEDGER_CHUNK_EVENTS",
    "BILLING_DUCKDB_THREADS",
    "BILLING_DBT_THREADS",
)


def _machine() -> dict:
    import os

    import dagster
    import duckdb
    import polars

    model = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    mem = Path("/proc/meminfo").read_text().splitlines()[0].split()[1]
    return {
        "nproc": os.cpu_count(),
        "memory_gib": round(int(mem) / 1024 / 1024, 1),
        "cpu": model,
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": polars.__version__,
        "dagster": dagster.__version__,
        # The knobs that trade speed for memory, as the measured runs saw them (unset: default).
        "settings": {name: os.environ.get(name) for name in _KNOBS},
    }


@click.group()
def main() -> None:
    """Benchmarks of billing_pipeline at scale (not part of `make test`)."""


@main.command()
@click.option("--payments", type=int, required=True, help="card payments per day")
@click.option("--days", type=int, default=3, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--root", type=click.Path(path_type=Path), default=Path("/tmp/bench"))
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--name", default=None, help="results file name (default day-<payments>)")
@click.option(
    "--warm",
    type=click.Choice(["pipeline", "direct"]),
    default="pipeline",
    show_default=True,
    help="earlier days through the whole job, or only landed + appended to the event store "
    "(recon, ledger and dbt read all history as of the run date either way)",
)
def day(payments, days, seed, root, repeats, name, warm) -> None:
    """Generate a world, run all but its last day, then time the last day end to end."""
    root.mkdir(parents=True, exist_ok=True)
    folder, generated = _world(root, payments, days, seed)
    _fresh_warehouse(folder)
    last = START + timedelta(days=days - 1)
    earlier = (START, last - timedelta(days=1))
    if days == 1:
        warm_up = None
    elif warm == "direct":
        warm_up = _direct_days(folder, *earlier)
    else:
        warm_up = _run_days(folder, *earlier, "warm")
    # The floor is read on both sides of the measured run: this machine's speed drifts by
    # up to 2x within an hour, and a ratio is only as good as its denominator's timing.
    floor_before = _floor(folder, last, repeats)
    measured = _run_days(folder, last, last, "last")
    record = {
        "scenario": "day",
        "payments_per_day": payments,
        "days": days,
        "date": last.isoformat(),
        "generate": generated,
        "warm_up": warm_up,
        "warm_mode": warm,
        "run": measured,
        "floor_before": floor_before,
        "floor": _floor(folder, last, repeats),
        "arms": _arms(folder, last, repeats),
        "machine": _machine(),
    }
    _save(name or f"day-{payments}", record)


@main.command()
@click.option("--payments", type=int, default=100_000, show_default=True)
@click.option("--days", type=int, default=30, show_default=True)
@click.option("--seed", type=int, default=7, show_default=True)
@click.option("--root", type=click.Path(path_type=Path), default=Path("/tmp/bench"))
@click.option("--name", default=None)
def backfill(payments, days, seed, root, name) -> None:
    """Generate a world and run every day of it in one process (a backfill)."""
    root.mkdir(parents=True, exist_ok=True)
    folder, generated = _world(root, payments, days, seed)
    _fresh_warehouse(folder)
    last = START + timedelta(days=days - 1)
    record = {
        "scenario": "backfill",
        "payments_per_day": payments,
        "days": days,
        "generate": generated,
        "run": _run_days(folder, START, last, "backfill"),
        "machine": _machine(),
    }
    _save(name or f"backfill-{payments}x{days}", record)


def _save(name: str, record: dict) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps(record, indent=1, default=str))
    click.echo(f"wrote {path}")
    run = record["run"]
    click.echo(json.dumps({"usage": run["usage"], "days": run.get("days", [])[-1:]}, indent=1))


@main.command()
@click.option("--folder", type=click.Path(path_type=Path, exists=True), required=True)
@click.option("--date", "day_text", required=True, help="business date (YYYY-MM-DD)")
@click.option("--repeats", type=int, default=3, show_default=True)
@click.option("--name", required=True)
def arms(folder, day_text, repeats, name) -> None:
    """Floor and recon reference arms only, on a world whose warehouse is already landed."""
    as_of = date.fromisoformat(day_text)
    record = {
        "scenario": "arms",
        "date": day_text,
        "floor": _floor(folder, as_of, repeats),
        "arms": _arms(folder, as_of, repeats),
        "machine": _machine(),
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / f"{name}.json").write_text(json.dumps(record, indent=1, default=str))
    click.echo(json.dumps(record, indent=1, default=str))


@main.command()
def table() -> None:
    """Print the results table (markdown) from benchmarks/results/*.json."""
    from benchmarks.report import render

    click.echo(render(sorted(RESULTS.glob("*.json"))))


if __name__ == "__main__":
    sys.exit(main())
