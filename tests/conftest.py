"""Shared fixtures. Every test that touches a warehouse gets its own tmp_path DuckDB."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty warehouse directory, pinned in the environment like the CLI does."""
    path = tmp_path / "warehouse"
    path.mkdir()
    monkeypatch.setenv("BILLING_WAREHOUSE", str(path))
    return path


@pytest.fixture
def inbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "inbox"
    path.mkdir()
    monkeypatch.setenv("BILLING_INBOX", str(path))
    return path


# The longest modules (whole pipeline runs), longest first. `make test` hands whole modules
# to two workers in collection order (`--dist loadfile --no-loadscope-reorder`): starting
# with these keeps one worker from picking up a three-minute module when the other is done.
_LONGEST_FIRST = (
    "tests/ops/test_write_audit_publish.py",
    "tests/receivables/test_aging_e2e.py",
    "tests/pipeline/test_daily_job.py",
    "tests/reliability/test_determinism.py",
    "tests/warehouse/test_ledger_incremental.py",
    "tests/pipeline/test_redrive.py",
    "tests/ops/test_dagster_ui.py",
    "tests/warehouse/test_dbt_project.py",
    "tests/formats/test_events_fast_path.py",
    "tests/ops/test_published_docs.py",
    "tests/formats/test_csv_fast_path.py",
)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    rank = {module: position for position, module in enumerate(_LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.nodeid.split("::")[0], len(rank)))
