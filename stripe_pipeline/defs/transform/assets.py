"""dbt: staging → intermediate → marts as Dagster assets, dbt tests as asset checks.

The marts are not partitioned: each reads every account's rows, so they depend on all partitions
of `stripe/*` (Dagster's default mapping from a partitioned upstream to an unpartitioned
downstream is all partitions) and are rebuilt after any account lands.
"""

from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import (
    DagsterDbtTranslator,
    DagsterDbtTranslatorSettings,
    DbtCliResource,
    dbt_assets,
)
from pydantic import Field

from stripe_pipeline.defs.common import WAREHOUSE_POOL, PipelineSettings
from stripe_pipeline.defs.transform.failed_rows import stored_failures_relations, with_failed_rows
from stripe_pipeline.defs.transform.project import (
    dbt_environment,
    dbt_project,
    dbt_vars,
    keep_partial_parse,
    manifest_path,
)
from stripe_pipeline.defs.transform.views import missing_views

LAYERS = ("staging", "intermediate", "marts")


class StripeDbtTranslator(DagsterDbtTranslator):
    """Sources keep dagster-dbt's `[source_name, table]` key, so `source('stripe', 'charges')` is
    the dlt asset `stripe/charges` (and `app/*`, `ops/*` the loaders' assets): one graph from
    Stripe to every mart. Models are keyed and grouped by their layer folder, which stays
    readable in the UI even if a model's schema config changes."""

    def __init__(self) -> None:
        super().__init__(settings=DagsterDbtTranslatorSettings(enable_asset_checks=True))

    def get_asset_spec(
        self, manifest: Mapping[str, Any], unique_id: str, project: Any
    ) -> dg.AssetSpec:
        spec = super().get_asset_spec(manifest, unique_id, project)
        props = self.get_resource_props(manifest, unique_id)
        if props["resource_type"] == "source":
            return spec.replace_attributes(key=dg.AssetKey([props["source_name"], props["name"]]))
        fqn = props.get("fqn") or []
        layer = next((part for part in fqn[1:-1] if part in LAYERS), None)
        if props["resource_type"] in ("model", "seed", "snapshot") and layer:
            return spec.replace_attributes(
                key=dg.AssetKey([layer, props["name"]]), group_name=layer
            )
        return spec


class DbtBuildConfig(dg.Config):
    full_refresh: bool = False
    also_select: list[str] = Field(
        default_factory=list,
        description=(
            "dbt nodes built with the run's selection, e.g. a singular test over several models "
            "that no single asset's check stands for."
        ),
    )
    unit_tests: bool = Field(
        default=True,
        description=(
            "Run the dbt unit tests of the selected models. They test the SQL, not the data, so "
            "the webhook fast path skips them; every other run keeps them."
        ),
    )
    views: bool = Field(
        default=True,
        description=(
            "Re-create the selected views. A view is a stored query that new rows do not "
            "change, so the webhook fast path selects them (for the order of its steps) but "
            "leaves them as they are; every other run re-creates them."
        ),
    )


def build_dbt_assets() -> dg.AssetsDefinition:
    @dbt_assets(
        manifest=manifest_path(),
        project=dbt_project(),
        name="dbt_models",
        dagster_dbt_translator=StripeDbtTranslator(),
        pool=WAREHOUSE_POOL,
    )
    def dbt_models(
        context: dg.AssetExecutionContext,
        config: DbtBuildConfig,
        dbt: DbtCliResource,
        settings: PipelineSettings,
    ) -> Iterator[Any]:
        run_settings = settings.get()
        args = ["build", *dbt_vars(run_settings)]
        if config.full_refresh:
            args.append("--full-refresh")
        if not config.unit_tests:
            args += ["--exclude-resource-type", "unit_test"]
        if not config.views:
            missing = missing_views(run_settings, manifest_path())
            if missing:
                # The fast path's selection cannot build them (they read the app and ops tables
                # too): its rows have landed, and the marts run that builds every view (the one
                # after a backfill, the next sync, the nightly run) puts them in the marts.
                context.log.warning(
                    "the marts are left to the next full marts run: the warehouse lacks views "
                    f"that only it creates ({', '.join(missing[:5])}"
                    f"{', ...' if len(missing) > 5 else ''})"
                )
                return
            args += ["--exclude", "config.materialized:view"]
        if config.also_select:
            # dagster-dbt adds this to the selection it derives from the run's assets (a union).
            args += ["--select", " ".join(config.also_select)]
        with dbt_environment(run_settings):
            invocation = dbt.cli(args, context=context)
        # Failed warning checks are yielded once dbt has finished, with the rows they found
        # (DuckDB lets no one read the file while dbt writes it). A failed error check fails the
        # step: it is yielded at once, so the stream's error cannot swallow it.
        held: list[dg.AssetCheckResult] = []
        for event in invocation.stream():
            if (
                isinstance(event, dg.AssetCheckResult)
                and not event.passed
                and event.severity == dg.AssetCheckSeverity.WARN
            ):
                held.append(event)
            else:
                yield event
        keep_partial_parse(invocation.target_path)
        relations = stored_failures_relations(manifest_path()) if held else {}
        for event in held:
            yield with_failed_rows(event, run_settings, relations)

    return dbt_models
