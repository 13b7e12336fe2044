"""Run business dates through `daily_job` in this process and record each step's wall time.

This is what `billing-pipeline run` does (runner.run_business_dates: same job, same ephemeral
instance, same run config, same per-date asset selection), plus reading STEP_START /
STEP_SUCCESS timestamps from the instance's event log and splitting the dbt step by the
stage each model serves (benchmarks.dbt_stages). Run it as a child process
(`python -m benchmarks.stages`) so the parent can take the whole run's wall time, CPU time and
peak RSS from the kernel.
"""

from __future__ import annotations

import json
import sys
import time
from datetime import date, timedelta

# Step key prefix -> the stage it belongs to in the results table.
STAGES = {
    "ingest": "ingest",  # one step since session 28; `ingest_<source>` before
    "store__events": "event_store",
    "event_store": "event_store",
    "reconciliation": "recon",
    "ledger_store__fx_rates": "fx",
    "ledger": "ledger",
    "dbt_models": "dbt",
    "analytics": "publish",
}


def stage_of(step_key: str) -> str:
    for prefix, stage in STAGES.items():
        if step_key.startswith(prefix):
            return stage
    return step_key


def step_spans(instance, run_id: str) -> dict[str, list[tuple[float, float]]]:
    """(start, end) timestamps of every attempt of each step (a retried step has several)."""
    started: dict[str, float] = {}
    spans: dict[str, list[tuple[float, float]]] = {}
    for entry in instance.all_logs(run_id):
        event = entry.dagster_event
        if event is None or event.step_key is None:
            continue
        if event.event_type_value == "STEP_START":
            started[event.step_key] = entry.timestamp
        elif event.event_type_value in ("STEP_SUCCESS", "STEP_FAILURE"):
            begin = started.get(event.step_key, entry.timestamp)
            spans.setdefault(event.step_key, []).append((begin, entry.timestamp))
    return spans


def run_dates(days: list[date], out_path: str | None = None) -> dict:
    """Run the dates as `billing-pipeline run --from --to` does (runner.plan_runs)."""
    import_start = time.perf_counter()
    from benchmarks.dbt_stages import node_seconds_by_stage
    from billing_pipeline.definitions import defs
    from billing_pipeline.defs.transform import dbt_target_path
    from billing_pipeline.runner import _QUIET, _instance, plan_runs

    job = defs.resolve_job_def("daily_job")
    instance = _instance()
    imported = time.perf_counter() - import_start
    out = {"import_seconds": imported, "days": []}
    for day, selection in plan_runs(defs, days):
        begin = time.perf_counter()
        result = job.execute_in_process(
            partition_key=day.isoformat(),
            instance=instance,
            raise_on_error=False,
            run_config=_QUIET,
            asset_selection=selection,
        )
        wall = time.perf_counter() - begin
        spans = step_spans(instance, result.run_id)
        steps = {key: sum(end - start for start, end in found) for key, found in spans.items()}
        stages: dict[str, float] = {}
        for key, seconds in steps.items():
            stages[stage_of(key)] = stages.get(stage_of(key), 0.0) + seconds
        if "dbt" in stages:
            # Attribute dbt's nodes to the stages they serve; the rest is dbt's own overhead.
            nodes = node_seconds_by_stage(dbt_target_path())
            dbt_total = stages.pop("dbt")
            for stage, seconds in nodes.items():
                stages[stage] = stages.get(stage, 0.0) + seconds
            stages["dbt_overhead"] = max(dbt_total - sum(nodes.values()), 0.0)
        failed = [e.step_key for e in result.all_events if e.is_step_failure]
        out["days"].append(
            {"date": day.isoformat(), "wall": wall, "ok": result.success, "failed": failed,
             "full_run": selection is None, "steps": steps, "stages": stages,
             # first start and last end of each step, for its peak RSS (benchmarks.memory)
             "windows": {k: [v[0][0], v[-1][1]] for k, v in spans.items()}}
        )  # fmt: skip
        if out_path:  # after every date: a long backfill stopped early keeps what it measured
            with open(out_path, "w") as fh:
                json.dump(out, fh, indent=1)
    return out


def main(argv: list[str]) -> int:
    start, end, out_path = date.fromisoformat(argv[0]), date.fromisoformat(argv[1]), argv[2]
    days = [start + timedelta(days=i) for i in range((end - start).days + 1)]
    report = run_dates(days, out_path)
    return 0 if all(d["ok"] for d in report["days"]) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
