"""The run log records what Dagster's own events say about a run: checks, failures, publish."""

from __future__ import annotations

from datetime import date

import dagster as dg
import pytest

from billing_pipeline.defs.sensors import record_failed_run, record_successful_run
from billing_pipeline.reporting.run_log import (
    read_run_record,
    record_dagster_run,
    record_in_process_result,
)

PARTITIONS = dg.DailyPartitionsDefinition(start_date="2026-10-01")
DAY = "2026-10-05"


def _job(chain_ok: bool) -> dg.JobDefinition:
    @dg.asset(
        key=["store", "events"],
        partitions_def=PARTITIONS,
        check_specs=[
            dg.AssetCheckSpec("hash_chain_verifies", asset=["store", "events"], blocking=True)
        ],
    )
    def events():
        yield dg.MaterializeResult()
        yield dg.AssetCheckResult(check_name="hash_chain_verifies", passed=chain_ok)

    @dg.asset(key=["analytics"], deps=[events], partitions_def=PARTITIONS)
    def analytics():
        return dg.MaterializeResult()

    defs = dg.Definitions(
        assets=[events, analytics],
        jobs=[dg.define_asset_job("daily_job", selection=dg.AssetSelection.all())],
    )
    return defs.resolve_job_def("daily_job")


@pytest.mark.parametrize("chain_ok", [True, False])
def test_in_process_and_instance_records_agree_on_checks_failures_and_publish(tmp_path, chain_ok):
    instance = dg.DagsterInstance.ephemeral()
    result = _job(chain_ok).execute_in_process(
        partition_key=DAY, instance=instance, raise_on_error=False
    )
    from_result = record_in_process_result(result, DAY, tmp_path / "a")
    run = instance.get_run_by_id(result.run_id)
    from_instance = record_dagster_run(instance, run, tmp_path / "b")

    assert from_result.success is chain_ok
    assert from_result.published is chain_ok
    assert [(c.asset, c.check, c.passed, c.blocking) for c in from_result.checks] == [
        ("store/events", "hash_chain_verifies", chain_ok, True)
    ]
    assert from_result.failed_steps == ([] if chain_ok else ["store__events"])
    for field in ("partition_date", "run_id", "success", "published", "checks", "failed_steps"):
        assert getattr(from_instance, field) == getattr(from_result, field), field
    assert read_run_record(tmp_path / "b", date.fromisoformat(DAY)) == from_instance


def test_the_run_status_sensors_write_the_record_of_the_run_they_see(tmp_path, monkeypatch):
    monkeypatch.setenv("BILLING_WAREHOUSE", str(tmp_path))
    instance = dg.DagsterInstance.ephemeral()
    for chain_ok, sensor, status in (
        (True, record_successful_run, dg.DagsterRunStatus.SUCCESS),
        (False, record_failed_run, dg.DagsterRunStatus.FAILURE),
    ):
        result = _job(chain_ok).execute_in_process(
            partition_key=DAY, instance=instance, raise_on_error=False
        )
        run = instance.get_run_by_id(result.run_id)
        assert run.status == status
        event = result.get_run_success_event() if chain_ok else result.get_run_failure_event()
        context = dg.build_run_status_sensor_context(
            sensor_name=sensor.name,
            dagster_instance=instance,
            dagster_run=run,
            dagster_event=event,
        )
        if chain_ok:
            sensor(context)
        else:
            sensor(context.for_run_failure())
        record = read_run_record(tmp_path, date.fromisoformat(DAY))
        assert record is not None and record.run_id == result.run_id
        assert record.success is chain_ok
