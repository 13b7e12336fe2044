import shutil
import sys
from pathlib import Path

from dagster_dbt import DbtCliResource, DbtProject
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.reliability.threads import duckdb_connection_config

# Every asset that writes billing.duckdb runs in this pool, limited to one at a time
# (dagster.yaml), because DuckDB allows a single writing process per file.
DUCKDB_POOL = "duckdb"

settings.export_for_subprocesses()

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)
dbt_project.prepare_if_dev()


def dbt_executable() -> str:
    """The dbt installed beside this Python (the venv's), even when the venv is not active."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.exists() else (shutil.which("dbt") or "dbt")


def build_resources() -> dict:
    return {
        "duckdb": DuckDBResource(
            database=str(settings.warehouse_path()),
            connection_config=duckdb_connection_config(),  # BILLING_DUCKDB_THREADS
        ),
        "dbt": DbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
