"""The webhook fast path leaves dbt's views as they are only where the warehouse has them all:
a webhook run can come before the first marts run, or after an upgrade that added a view."""

from __future__ import annotations

from pathlib import Path

import duckdb

from stripe_pipeline.defs.transform.project import manifest_path
from stripe_pipeline.defs.transform.views import manifest_views, missing_views
from stripe_pipeline.settings import Settings
from tests.fixtures.transform import DuckdbWarehouse


def test_a_warehouse_never_built_lacks_every_view(tmp_path: Path) -> None:
    settings = Settings(warehouse_path=tmp_path / "warehouse.duckdb")
    views = manifest_views(manifest_path())
    assert ("staging", "stg_stripe__charges") in views
    assert len(missing_views(settings, manifest_path())) == len(views)


def test_a_built_warehouse_lacks_none_until_a_view_is_dropped(
    built_warehouse: DuckdbWarehouse,
) -> None:
    settings = Settings(warehouse_path=built_warehouse.path)
    assert missing_views(settings, manifest_path()) == []
    with duckdb.connect(str(built_warehouse.path)) as con:
        con.execute("drop view staging.stg_stripe__invoice_payments")
    assert missing_views(settings, manifest_path()) == ["staging.stg_stripe__invoice_payments"]
