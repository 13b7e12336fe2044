"""The exchange rates in use, as an asset analysts and auditors can read."""

import dagster as dg
from dagster_duckdb import DuckDBResource

from billing_pipeline import settings
from billing_pipeline.defs.ledger import EVENTS
from billing_pipeline.defs.partitions import daily_partitions
from billing_pipeline.defs.resources import DUCKDB_POOL
from billing_pipeline.warehouse.fx_rates import build_rate_table

RATES = dg.AssetKey(["ledger_store", "fx_rates"])


@dg.asset(
    key=RATES,
    deps=[EVENTS, ["rates", "rates"]],
    partitions_def=daily_partitions,
    pool=DUCKDB_POOL,
    group_name="ledger",
    kinds={"duckdb"},
    description="Rate of every booked currency into the functional currency for every date: "
    "ECB reference rates shipped offline plus rates files, crossed via EUR exactly.",
    check_specs=[
        dg.AssetCheckSpec(
            "every_currency_has_a_rate",
            asset=RATES,
            blocking=False,
            description="Warns when a booked currency has no usable rate on some date.",
        )
    ],
)
def fx_rates(context: dg.AssetExecutionContext, duckdb: DuckDBResource):
    with duckdb.get_connection() as conn:
        rows = build_rate_table(conn, settings.functional_currency())
        missing = conn.execute(
            "select currency, min(rate_date), max(rate_date), any_value(problem) "
            "from ledger_store.fx_rates where problem is not null group by currency"
        ).fetchall()
    yield dg.MaterializeResult(metadata={"dagster/row_count": rows})
    yield dg.AssetCheckResult(
        check_name="every_currency_has_a_rate",
        passed=not missing,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"missing": [f"{c} {a}..{b}: {p}" for c, a, b, p in missing]},
    )
