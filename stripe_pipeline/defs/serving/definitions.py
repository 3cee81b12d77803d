from __future__ import annotations

import dagster as dg

from stripe_pipeline.defs.serving.assets import build_serving_assets


def defs(marts: list[dg.AssetKey]) -> dg.Definitions:
    return dg.Definitions(assets=build_serving_assets(marts))
