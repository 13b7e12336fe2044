"""Helpers shared by tests (import as `tests.support`)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
REAL_FIXTURES = REPO / "tests" / "fixtures" / "real"
DBT_DIR = REPO / "dbt_project"
VENV_BIN = Path(os.environ.get("VIRTUAL_ENV", REPO / ".venv")) / "bin"


def dbt(*args: str, warehouse: Path) -> subprocess.CompletedProcess:
    """Run the dbt CLI of this environment against a warehouse directory."""
    executable = VENV_BIN / "dbt" if (VENV_BIN / "dbt").exists() else "dbt"
    env = {**os.environ, "BILLING_WAREHOUSE": str(warehouse)}
    return subprocess.run(
        [str(executable), *args, "--profiles-dir", str(DBT_DIR), "--project-dir", str(DBT_DIR)],
        cwd=DBT_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
