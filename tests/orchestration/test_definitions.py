"""The code location's shape: what loads, which keys exist, how they connect, who holds the pool."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import dagster as dg
import pytest
import yaml

from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, WAREHOUSE_POOL

REPO_ROOT = Path(__file__).resolve().parents[2]
STRIPE_RESOURCES = {
    "products",
    "prices",
    "payment_intents",
    "charges",
    "refunds",
    "disputes",
    "balance_transactions",
    "payouts",
    "payout_balance_transactions",
    "invoice_payments",
    "invoices",
    "invoice_line_items",
    "events",
}


def test_definitions_load_without_reading_the_environment_or_touching_files(
    dbt_manifest: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from stripe_pipeline.definitions import build_definitions

    # Values load_settings() would reject: building the definitions must not call it.
    monkeypatch.setenv("STRIPE_RATE_LIMIT", "not-a-number")
    monkeypatch.delenv("STRIPE_CLIENT_SECRET", raising=False)
    monkeypatch.chdir(tmp_path)

    defs = build_definitions()
    dg.Definitions.validate_loadable(defs)

    assert list(tmp_path.iterdir()) == [], "loading the definitions created files"


def test_asset_graph_runs_from_stripe_through_staging_to_every_mart(
    orchestration_defs: dg.Definitions,
) -> None:
    graph = orchestration_defs.resolve_asset_graph()
    keys = graph.get_all_asset_keys()
    stripe = {k.path[1] for k in keys if k.path[0] == "stripe"}
    assert stripe == STRIPE_RESOURCES

    for resource in STRIPE_RESOURCES - {"invoice_line_items"}:
        staging = dg.AssetKey(["staging", f"stg_stripe__{resource}"])
        assert dg.AssetKey(["stripe", resource]) in graph.get(staging).parent_keys, resource

    marts = {k for k in keys if k.path[0] == "marts"}
    assert dg.AssetKey(["marts", "transactions"]) in marts
    transactions_upstream = graph.upstream_key_iterator(dg.AssetKey(["marts", "transactions"]))
    assert dg.AssetKey(["stripe", "balance_transactions"]) in set(transactions_upstream)
    assert graph.get(dg.AssetKey(["serving", "marts"])).parent_keys == marts


def test_no_phantom_keys_every_dependency_is_an_asset_we_materialize(
    orchestration_defs: dg.Definitions,
) -> None:
    graph = orchestration_defs.resolve_asset_graph()
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        assert node.is_materializable, f"{key.to_user_string()} is a dependency nobody materializes"
        for parent in node.parent_keys:
            assert graph.get(parent).is_materializable, f"{key.to_user_string()} <- {parent}"
    # dlt's default translator would add `stripe_<resource>` upstream keys.
    assert not [k for k in graph.get_all_asset_keys() if k.path[0].startswith("dlt_")]
    assert not [k for k in graph.get_all_asset_keys() if k.path[0].startswith("stripe_")]


def test_stripe_assets_are_partitioned_per_account_with_kinds_and_group(
    orchestration_defs: dg.Definitions,
) -> None:
    graph = orchestration_defs.resolve_asset_graph()
    for resource in STRIPE_RESOURCES:
        node = graph.get(dg.AssetKey(["stripe", resource]))
        assert node.partitions_def == STRIPE_ACCOUNTS
        assert node.group_name == "stripe"
        assert {"dlt", "duckdb", "stripe"} <= set(node.kinds)
    # The marts read every account: unpartitioned.
    assert graph.get(dg.AssetKey(["marts", "transactions"])).partitions_def is None


def test_every_warehouse_writer_and_reader_holds_the_warehouse_pool(
    orchestration_defs: dg.Definitions,
) -> None:
    graph = orchestration_defs.resolve_asset_graph()
    assets_defs = {graph.get(k).assets_def for k in graph.get_all_asset_keys()}
    assert len(assets_defs) >= 5  # stripe, app, ops, dbt, serving
    for assets_def in assets_defs:
        assert assets_def.op.pool == WAREHOUSE_POOL, assets_def.node_def.name
    for checks_def in orchestration_defs.asset_checks or []:
        assert checks_def.op.pool == WAREHOUSE_POOL, checks_def.node_def.name


def test_instance_template_limits_the_warehouse_pool_to_one(tmp_path: Path) -> None:
    from stripe_pipeline.sync_cli import prepare_dagster_home

    config = yaml.safe_load((REPO_ROOT / "dagster.yaml").read_text())
    assert config["concurrency"]["pools"]["default_limit"] == 1

    home = prepare_dagster_home(tmp_path / "dagster_home")
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_concurrency_config().pool_config.default_pool_limit == 1


def test_jobs_sensors_and_schedule_are_defined(orchestration_defs: dg.Definitions) -> None:
    for job in ("stripe_sync_job", "stripe_ingest_job", "marts_job"):
        orchestration_defs.resolve_job_def(job)
    sensors = {s.name for s in orchestration_defs.sensors or []}
    assert {"stripe_accounts_sensor", "webhook_inbox_sensor", "sync_requests_sensor"} <= sensors
    schedule = orchestration_defs.resolve_schedule_def("stripe_nightly_schedule")
    assert schedule.cron_schedule == "0 2 * * *" and schedule.execution_timezone == "UTC"


def test_workspace_yaml_loads_the_code_location(dbt_manifest: Path, tmp_path: Path) -> None:
    dagster = Path(sys.executable).parent / "dagster"
    env = {**os.environ, "DAGSTER_HOME": str(tmp_path)}
    done = subprocess.run(
        [str(dagster), "definitions", "validate", "-w", "workspace.yaml"],
        cwd=REPO_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
