"""The one Definitions object loads, and everything in it resolves."""

from datetime import datetime

import dagster as dg

from billing_pipeline.definitions import defs


def test_every_asset_check_job_and_schedule_resolves():
    graph = defs.resolve_asset_graph()
    keys = {key.to_user_string() for key in graph.get_all_asset_keys()}
    expected = {
        "stripe/settlement_lines",
        "adyen/payouts",
        "bank/bank_lines",
        "events/billing_events",
        "rates/rates",
        "store/events",
        "ledger_store/journal_lines",
        "ledger/journal_lines",
        "ledger/trial_balance",
        "payments/payment_states",
        "ops/quarantine",
        "analytics",
    }
    assert expected <= keys
    job = defs.resolve_job_def("daily_job")
    assert job.partitions_def is not None
    schedule = defs.resolve_schedule_def("daily_job_schedule")
    assert schedule.job_name == "daily_job"
    checks = {key.name for key in graph.asset_check_keys}
    assert {
        "nothing_lost",
        "hash_chain_verifies",
        "entries_balance",
        "trial_balance_balances",
    } <= checks


def test_every_duckdb_writer_is_in_the_single_writer_pool():
    graph = defs.resolve_asset_graph()
    pools = {
        node.key.to_user_string(): node.pools
        for node in graph.asset_nodes
        if node.is_materializable and not node.is_external
    }
    assert pools and all(p == {"duckdb"} for p in pools.values()), pools


def test_the_schedule_asks_for_yesterdays_partition():
    schedule = defs.resolve_schedule_def("daily_job_schedule")
    context = dg.build_schedule_context(scheduled_execution_time=datetime(2026, 10, 10, 6, 0))
    requests = list(schedule.evaluate_tick(context).run_requests or [])
    assert [r.partition_key for r in requests] == ["2026-10-09"]


def test_the_code_location_loads_like_dagster_dev_loads_it(tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    repo = Path(__file__).resolve().parents[2]
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=repo,
        env={**os.environ, "DAGSTER_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "All code locations passed validation" in result.stderr + result.stdout


def test_loading_the_definitions_leaves_the_charting_library_to_the_step_that_draws(tmp_path):
    # Every step's process loads the definitions (the multiprocess executor starts one per
    # step); matplotlib is ~0.7 s of imports that only the publish step uses.
    import os
    import subprocess
    import sys

    probe = "import sys, billing_pipeline.definitions; print('matplotlib' in sys.modules)"
    result = subprocess.run(
        [sys.executable, "-c", probe],
        env={**os.environ, "BILLING_WAREHOUSE": str(tmp_path)},
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip() == "False"
