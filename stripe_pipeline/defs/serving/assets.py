"""`serving/marts`: the marts copied to the serving DuckDB file and Parquet files BI tools read
(stripe_pipeline/publish.py: temp files renamed into place, so readers never block or see a
half-written mart)."""

import dagster as dg

from stripe_pipeline.defs.common import WAREHOUSE_POOL, PipelineSettings


def build_serving_assets(marts: list[dg.AssetKey]) -> list[dg.AssetsDefinition]:
    @dg.asset(
        key=["serving", "marts"],
        deps=marts,
        group_name="serving",
        kinds={"duckdb", "parquet"},
        # Publishing reads the warehouse, and DuckDB will not open a file another process is
        # writing, so it queues with the writers.
        pool=WAREHOUSE_POOL,
        description=(
            "Every table of schema `marts`, published to SERVING_DIR/stripe.duckdb and "
            "SERVING_DIR/parquet/<mart>.parquet for BI tools (open read-only)."
        ),
    )
    def serving_marts(
        context: dg.AssetExecutionContext, settings: PipelineSettings
    ) -> dg.MaterializeResult:
        from stripe_pipeline.publish import publish

        result = publish(settings.get())
        if result is None:
            context.log.info("Postgres warehouse: BI tools read its `marts` schema; no copy made")
            return dg.MaterializeResult(metadata={"published": False})
        context.log.info(f"published {len(result.tables)} marts to {result.serving_path}")
        return dg.MaterializeResult(
            metadata={
                "serving_path": dg.MetadataValue.path(str(result.serving_path)),
                "parquet_dir": dg.MetadataValue.path(str(result.parquet_dir)),
                "tables": dg.MetadataValue.int(len(result.tables)),
                "rows": dg.MetadataValue.json(result.row_counts),
                "seconds": dg.MetadataValue.float(round(result.seconds, 3)),
            }
        )

    return [serving_marts]
