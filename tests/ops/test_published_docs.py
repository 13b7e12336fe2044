"""Every published relation and every one of its columns is documented; `dbt docs` works."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from billing_pipeline.warehouse.publish import PUBLISHED_SCHEMAS
from billing_pipeline.warehouse.tables import ensure_schema
from tests.support import dbt


@pytest.fixture(scope="module")
def docs(tmp_path_factory) -> tuple[dict, dict]:
    """manifest.json and catalog.json of `dbt docs generate` over a fresh, empty warehouse."""
    warehouse = tmp_path_factory.mktemp("docs_warehouse")
    target = warehouse / "target"  # never the project's own target/, which Dagster reads
    with duckdb.connect(str(warehouse / "billing.duckdb")) as conn:
        ensure_schema(conn)
    built = dbt("run", "--target-path", str(target), warehouse=warehouse)
    assert built.returncode == 0, built.stdout[-3000:]
    generated = dbt("docs", "generate", "--target-path", str(target), warehouse=warehouse)
    assert generated.returncode == 0, generated.stdout[-3000:]
    assert (target / "index.html").exists()
    return (
        json.loads((target / "manifest.json").read_text()),
        json.loads((target / "catalog.json").read_text()),
    )


def _published_nodes(catalog: dict) -> dict[str, dict]:
    return {
        unique_id: node
        for unique_id, node in catalog["nodes"].items()
        if node["metadata"]["schema"] in PUBLISHED_SCHEMAS
    }


def test_the_catalog_holds_the_core_published_relations(docs):
    _, catalog = docs
    names = {
        f"{n['metadata']['schema']}.{n['metadata']['name']}"
        for n in _published_nodes(catalog).values()
    }
    assert {
        "ledger.journal_lines",
        "ledger.account_balances_daily",
        "ledger.trial_balance",
        "payments.payment_states",
        "payments.payment_state_history",
        "recon.matches",
        "recon.discrepancies",
        "ops.file_registry",
        "ops.quarantine",
    } <= names


def test_every_published_relation_and_column_has_a_description(docs):
    manifest, catalog = docs
    undocumented = []
    for unique_id, node in _published_nodes(catalog).items():
        documented = manifest["nodes"][unique_id]
        name = f"{node['metadata']['schema']}.{node['metadata']['name']}"
        if not documented.get("description", "").strip():
            undocumented.append(name)
        described = {
            column.lower(): spec.get("description", "").strip()
            for column, spec in documented["columns"].items()
        }
        undocumented += [
            f"{name}.{column}" for column in node["columns"] if not described.get(column.lower())
        ]
    assert undocumented == []


def test_the_analyst_guide_names_every_published_relation(docs):
    _, catalog = docs
    guide = (Path(__file__).resolve().parents[2] / "docs" / "analyst_guide.md").read_text()
    missing = [
        f"{n['metadata']['schema']}.{n['metadata']['name']}"
        for n in _published_nodes(catalog).values()
        if f"`{n['metadata']['schema']}.{n['metadata']['name']}`" not in guide
    ]
    assert missing == []
