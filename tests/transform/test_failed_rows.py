"""A failed warning check carries the rows its dbt test found (the test stores them), so the
Dagster UI shows which account and object are unexpected."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import pytest

from stripe_pipeline.defs.transform.failed_rows import stored_failures_relations, with_failed_rows
from stripe_pipeline.settings import Settings
from tests.fixtures.transform import DuckdbWarehouse
from tests.transform.test_money import P, _warehouse

pytestmark = pytest.mark.slow


def test_a_failed_warning_check_shows_the_unclassified_row_in_its_metadata(
    tmp_path: Path,
) -> None:
    warehouse: DuckdbWarehouse = _warehouse(tmp_path)
    built = warehouse.dbt("build")
    assert built.ok, built.output[-4000:]
    relations = stored_failures_relations(tmp_path / "target" / "manifest.json")
    assert set(relations) == {
        "warn_unclassified_balance_transactions",
        "warn_failed_charges_moved_money",
    }
    settings = Settings(warehouse_path=warehouse.path, data_dir=tmp_path)
    check = dg.AssetCheckResult(
        asset_key=dg.AssetKey(["marts", "data_warnings"]),
        check_name="warn_unclassified_balance_transactions",
        passed=False,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={"dagster_dbt/failed_row_count": 1},
    )
    shown = with_failed_rows(check, settings, relations)
    table = shown.metadata["failed_rows"].value
    assert P in table and "txn_unknown" in table and "brand_new_type" in table
    assert shown.metadata["dagster_dbt/failed_row_count"].value == 1
    assert shown.severity == dg.AssetCheckSeverity.WARN and not shown.passed
    # A check that passed, or whose test stores nothing, is left as it is.
    passed = dg.AssetCheckResult(
        asset_key=check.asset_key, check_name=check.check_name, passed=True
    )
    assert with_failed_rows(passed, settings, relations) is passed
