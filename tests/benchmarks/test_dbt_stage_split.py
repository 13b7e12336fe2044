"""The benchmark harness splits dbt's time by the stage each node serves, losing none of it."""

from __future__ import annotations

import json

from benchmarks.dbt_stages import node_seconds_by_stage, stage_of_node


def _artifacts(tmp_path, nodes: dict[str, tuple[list[str], float]]):
    manifest = {"nodes": {uid: {"fqn": fqn} for uid, (fqn, _) in nodes.items()}}
    results = {"results": [{"unique_id": u, "execution_time": s} for u, (_, s) in nodes.items()]}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    (tmp_path / "run_results.json").write_text(json.dumps(results))


def test_mart_folders_map_to_the_issue_stages():
    assert stage_of_node(["billing_pipeline", "marts", "receivables", "invoice_aging"]) == (
        "receivables"
    )
    assert stage_of_node(["billing_pipeline", "marts", "fx", "exposure"]) == "fx"
    assert stage_of_node(["billing_pipeline", "marts", "payments", "payment_states"]) == "ledger"
    assert stage_of_node(["billing_pipeline", "staging", "stg_bank__lines"]) == "dbt_staging"
    intermediate = ["billing_pipeline", "intermediate", "int_invoice_versions"]
    assert stage_of_node(intermediate, {"stage": "receivables"}) == "receivables"


def test_every_node_second_lands_in_exactly_one_stage(tmp_path):
    nodes = {
        "model.p.invoice_aging": (["p", "marts", "receivables", "invoice_aging"], 1.5),
        "test.p.not_null_aging": (["p", "marts", "receivables", "not_null_aging"], 0.25),
        "model.p.exposure": (["p", "marts", "fx", "exposure"], 0.75),
        "model.p.stg": (["p", "staging", "stg"], 0.5),
        "model.p.journal": (["p", "marts", "ledger", "journal_lines"], 2.0),
    }
    _artifacts(tmp_path, nodes)
    split = node_seconds_by_stage(tmp_path)
    assert split == {"receivables": 1.75, "fx": 0.75, "dbt_staging": 0.5, "ledger": 2.0}
    assert sum(split.values()) == sum(seconds for _, seconds in nodes.values())


def test_missing_artifacts_give_no_split(tmp_path):
    assert node_seconds_by_stage(tmp_path) == {}
