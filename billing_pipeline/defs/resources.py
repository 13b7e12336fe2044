import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cached_property
from pathlib import Path

import duckdb
from dagster_dbt import DbtCliResource, DbtProject
from dagster_duckdb import DuckDBResource
from dbt.version import __version__ as dbt_version
from packaging import version

from billing_pipeline import settings
from billing_pipeline.defs.dbt_in_process import dbt_in_process
from billing_pipeline.reliability.duckdb_settings import duckdb_connection_config

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


class LeanDbtCliResource(DbtCliResource):
    """`DbtCliResource` without three start-up costs paid on every run.

    dagster-dbt asks the dbt executable for its version (a `dbt --version` subprocess, which
    imports all of dbt) and loads dbt's macros into an in-process adapter. The executable is
    the venv's own (`dbt_executable`), so its version is the installed package's; the adapter
    only serves `fetch_row_counts`/`fetch_column_metadata`, which this project does not call.
    Those two were ~6 s CPU on 2 cores. And dbt runs in the step's process (`dbt_in_process`),
    which already imported what a dbt subprocess would import again.
    """

    # False: dbt runs as dagster-dbt starts it, a subprocess.
    in_process: bool = True

    @cached_property
    def _cli_version(self) -> version.Version:
        return version.parse(dbt_version)

    def _initialize_dbt_core_adapter(self, args):
        return None

    def cli(self, args, **kwargs):
        if not self.in_process:
            return super().cli(args, **kwargs)
        with dbt_in_process():
            return super().cli(args, **kwargs)


class WarehouseDuckDBResource(DuckDBResource):
    """`DuckDBResource` that creates the warehouse's folder before it connects.

    DuckDB cannot create a file in a missing folder, and dagster-duckdb retries a failed
    connect with exponential backoff (the retry meant for another process's lock): a run
    started from the UI against a fresh `BILLING_WAREHOUSE` would wait ~17 minutes to fail.
    The CLI makes the folder itself; this makes every other entry point behave the same.
    """

    @contextmanager
    def get_connection(self) -> Iterator[duckdb.DuckDBPyConnection]:
        Path(self.database).parent.mkdir(parents=True, exist_ok=True)
        with super().get_connection() as conn:
            yield conn


def build_resources() -> dict:
    return {
        "duckdb": WarehouseDuckDBResource(
            database=str(settings.warehouse_path()),
            connection_config=duckdb_connection_config(),  # BILLING_DUCKDB_THREADS, _MEMORY_LIMIT
        ),
        "dbt": LeanDbtCliResource(project_dir=dbt_project, dbt_executable=dbt_executable()),
    }
