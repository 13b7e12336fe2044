"""Split the dbt step's time into the pipeline stages its models serve.

dbt writes `run_results.json` (seconds per node) and `manifest.json` (each node's folder)
into the warehouse's dbt target folder (`defs.transform.dbt_target_path`). A node's folder
says which stage it belongs to: `marts/receivables` is the receivables stage, `marts/fx` the
FX stage, and so on; a model outside the marts can name its stage in `meta: {stage: ...}`.
Whatever the dbt step took beyond its nodes (dbt's start: a subprocess's imports until
session 36, when dbt moved into the step's process; parsing; Dagster's handling of dbt's
events) is reported as `dbt_overhead`.
"""

from __future__ import annotations

import json
from pathlib import Path

# marts/<folder> -> stage; everything else dbt builds (staging, intermediate, ops marts).
MART_STAGES = {
    "ledger": "ledger",
    "payments": "ledger",
    "recon": "recon",
    "receivables": "receivables",
    "fx": "fx",
}


def stage_of_node(fqn: list[str], meta: dict | None = None) -> str:
    """The node's stage: `meta.stage` if the model names one, else its mart folder."""
    if meta and meta.get("stage"):
        return str(meta["stage"])
    if len(fqn) > 2 and fqn[1] == "marts":
        return MART_STAGES.get(fqn[2], "dbt_marts_other")
    return "dbt_staging"


def node_seconds_by_stage(target: Path) -> dict[str, float]:
    """Seconds of dbt node execution per stage, from the last invocation's artifacts."""
    results_path, manifest_path = target / "run_results.json", target / "manifest.json"
    if not results_path.exists() or not manifest_path.exists():
        return {}
    results = json.loads(results_path.read_text())["results"]
    nodes = json.loads(manifest_path.read_text())["nodes"]
    seconds: dict[str, float] = {}
    for result in results:
        node = nodes.get(result["unique_id"])
        stage = stage_of_node(node["fqn"], node.get("meta")) if node else "dbt_staging"
        seconds[stage] = seconds.get(stage, 0.0) + float(result["execution_time"])
    return seconds
