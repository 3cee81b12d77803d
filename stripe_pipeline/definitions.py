"""The Dagster code location: `dagster dev` (workspace.yaml) loads `defs` from here.

One folder per concern under `stripe_pipeline/defs/`, each ending in a `definitions.defs()`;
this module merges them. Merged explicitly rather than with `dg.load_from_defs_folder`, which
needs a `[tool.dg]` project table this repository does not have, and because the folders pass
each other asset keys (the sensors and the serving asset need the Stripe and mart keys).

Nothing is read from the environment here: settings are read when a run or a sensor tick
starts (`PipelineSettings.get()`), so tests call `build_definitions(...)` with their own
resources against a temporary warehouse.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import dagster as dg

from stripe_pipeline.defs.common import default_resources

# A run over a range of account partitions would otherwise log one "materialization planned"
# event per asset per partition when it is created (10,000 for a thousand accounts, ~10-70 ms
# each in the SQLite event log); with this, one per asset. Dagster's own switch; its cost: the
# partitions of a run that fails are not marked failed (the ops store's sync state says which
# accounts failed, and marts.connector_health shows them). Set where runs are created: here for
# `stripe-pipeline sync` and every process loading this code location; the daemon needs it in
# its own environment too (docs/operations.md).
PLANNED_EVENTS_ENV = "DAGSTER_EMIT_PARTITION_SUBSET_IN_PLANNED_EVENTS"


def build_definitions(resources: Mapping[str, Any] | None = None) -> dg.Definitions:
    os.environ.setdefault(PLANNED_EVENTS_ENV, "true")
    from stripe_pipeline.stripe_sdk_logging import silence_stripe_sdk_console

    # Every process that loads the code location (code server, run workers) syncs from Stripe.
    silence_stripe_sdk_console()
    from stripe_pipeline.defs.automation import definitions as automation
    from stripe_pipeline.defs.ingestion import definitions as ingestion
    from stripe_pipeline.defs.serving import definitions as serving
    from stripe_pipeline.defs.transform import definitions as transform

    ingestion_defs = ingestion.defs()
    transform_defs = transform.defs()
    stripe_keys = [k for a in ingestion_defs.assets or [] for k in a.keys if k.path[0] == "stripe"]
    model_keys = [k for a in transform_defs.assets or [] for k in a.keys]
    marts = [k for k in model_keys if k.path[0] == "marts"]
    serving_defs = serving.defs(marts)
    downstream = [
        *model_keys,
        *(k for a in serving_defs.assets or [] for k in a.keys),
        *(k for a in ingestion_defs.assets or [] for k in a.keys if k.path[0] in ("app", "ops")),
    ]
    freshness = [
        key
        for checks in transform_defs.asset_checks or []
        for key in checks.check_keys
        if key.name == "dbt_source_freshness"
    ]
    return dg.Definitions.merge(
        ingestion_defs,
        transform_defs,
        serving_defs,
        automation.defs(stripe_keys, downstream, freshness),
        dg.Definitions(
            resources={**default_resources(), **(resources or {})},
            # Also for the UI's ad-hoc materializations: every step holds the one `warehouse`
            # slot in turn anyway, and a subprocess per step reloads the code location each time.
            executor=dg.in_process_executor,
        ),
    )


@dg.definitions
def defs() -> dg.Definitions:
    return build_definitions()
