from __future__ import annotations

import json

import dagster as dg
from dagster_dbt import DbtCliResource

from stripe_pipeline.defs.transform.assets import build_dbt_assets
from stripe_pipeline.defs.transform.checks import build_freshness_checks
from stripe_pipeline.defs.transform.project import dbt_executable, dbt_project, manifest_path


def defs() -> dg.Definitions:
    dbt_models = build_dbt_assets()
    manifest = json.loads(manifest_path().read_text())
    checks = build_freshness_checks(manifest)
    return dg.Definitions(
        assets=[dbt_models],
        asset_checks=checks,
        resources={
            "dbt": DbtCliResource(project_dir=dbt_project(), dbt_executable=dbt_executable())
        },
    )
