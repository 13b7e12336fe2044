from dagster_dbt import DbtCliResource, DbtProject
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings

# Every asset that writes billing.duckdb runs in this pool, limited to one at a time
# (dagster.yaml), because DuckDB allows a single writing process per file.
DUCKDB_POOL = "duckdb"

settings.export_for_subprocesses()

dbt_project = DbtProject(
    project_dir=settings.DBT_PROJECT_DIR,
    profiles_dir=settings.DBT_PROJECT_DIR,
)
dbt_project.prepare_if_dev()


def build_resources() -> dict:
    return {
        "duckdb": DuckDBResource(database=str(settings.warehouse_path())),
        "dbt": DbtCliResource(project_dir=dbt_project),
    }
