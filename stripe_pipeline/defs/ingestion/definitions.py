from __future__ import annotations

import dagster as dg
from dagster_dlt import DagsterDltResource

from stripe_pipeline.defs.ingestion.assets import app_tables, build_ops_tables, build_stripe_assets


def defs() -> dg.Definitions:
    stripe_assets = build_stripe_assets()
    return dg.Definitions(
        assets=[stripe_assets, app_tables, build_ops_tables(list(stripe_assets.keys))],
        resources={"dlt": DagsterDltResource()},
    )
