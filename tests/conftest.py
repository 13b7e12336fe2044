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
