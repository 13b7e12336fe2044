"""The outcome of each business date's latest run, kept where `report` can read it.

A run whose blocking check fails never publishes, so the analyst file cannot say that it
failed. Each run therefore leaves a small JSON record beside the warehouse,
`<warehouse>/run_log/<date>.json` (written to a temporary file and renamed into place): the
run id, whether it succeeded, whether it published, every asset check with its outcome, and
the steps that failed. The CLI runner writes it after each in-process run; the run status
sensors write it for runs launched by the daemon or the UI. The newest run of a date wins.
"""

from __future__ import annotations

import json
import os
import uuid
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

PUBLISH_ASSET = "analytics"


@dataclass(frozen=True)
class CheckOutcome:
    asset: str
    check: str
    passed: bool
    blocking: bool
    severity: str


@dataclass(frozen=True)
class RunRecord:
    partition_date: str
    run_id: str
    success: bool
    published: bool
    recorded_at: str
    checks: list[CheckOutcome] = field(default_factory=list)
    failed_steps: list[str] = field(default_factory=list)

    @property
    def failed_checks(self) -> list[CheckOutcome]:
        return [c for c in self.checks if not c.passed]

    @property
    def failed_blocking_checks(self) -> list[CheckOutcome]:
        return [c for c in self.failed_checks if c.blocking or c.severity == "ERROR"]


def record_from_events(
    partition_date: str, run_id: str, success: bool, events: Iterable[Any]
) -> RunRecord:
    """A record from a run's `DagsterEvent`s (dagster is imported here, not by `report`)."""
    from dagster import DagsterEventType

    checks: dict[tuple[str, str], CheckOutcome] = {}
    failed_steps: list[str] = []
    published = False
    for event in events:
        if event.event_type == DagsterEventType.ASSET_CHECK_EVALUATION:
            evaluation = event.event_specific_data
            outcome = CheckOutcome(
                asset=evaluation.asset_key.to_user_string(),
                check=evaluation.check_name,
                passed=bool(evaluation.passed),
                blocking=bool(evaluation.blocking),
                severity=evaluation.severity.value,
            )
            checks[(outcome.asset, outcome.check)] = outcome  # a retry's outcome wins
        elif event.event_type == DagsterEventType.STEP_FAILURE and event.step_key:
            failed_steps.append(event.step_key)
        elif event.event_type == DagsterEventType.ASSET_MATERIALIZATION:
            key = event.event_specific_data.materialization.asset_key.to_user_string()
            published = published or key == PUBLISH_ASSET
    return RunRecord(
        partition_date=partition_date,
        run_id=run_id,
        success=success,
        published=published,
        recorded_at=datetime.now(UTC).isoformat(timespec="seconds"),
        checks=sorted(checks.values(), key=lambda c: (c.asset, c.check)),
        failed_steps=sorted(set(failed_steps)),
    )


def run_log_dir(warehouse_dir: Path) -> Path:
    return warehouse_dir / "run_log"


def write_run_record(warehouse_dir: Path, record: RunRecord) -> Path:
    folder = run_log_dir(warehouse_dir)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{record.partition_date}.json"
    tmp = folder / f".{target.name}.{uuid.uuid4().hex}.tmp"
    tmp.write_text(json.dumps(asdict(record), indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, target)
    return target


def read_run_record(warehouse_dir: Path, day: date) -> RunRecord | None:
    path = run_log_dir(warehouse_dir) / f"{day.isoformat()}.json"
    if not path.exists():
        return None
    data = json.loads(path.read_text(encoding="utf-8"))
    checks = [CheckOutcome(**c) for c in data.pop("checks", [])]
    return RunRecord(checks=checks, **data)


def record_in_process_result(result, partition_date: str, warehouse_dir: Path) -> RunRecord:
    """Record an `ExecuteInProcessResult` of the daily job (the CLI runner's runs)."""
    record = record_from_events(partition_date, result.run_id, result.success, result.all_events)
    write_run_record(warehouse_dir, record)
    return record


def record_dagster_run(instance, run, warehouse_dir: Path) -> RunRecord | None:
    """Record a finished run of the daily job from the instance's event log."""
    partition = run.tags.get("dagster/partition")
    if not partition:
        return None
    events = [e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event]
    record = record_from_events(partition, run.run_id, run.is_success, events)
    write_run_record(warehouse_dir, record)
    return record
