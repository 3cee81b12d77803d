"""Checks beyond dbt's own tests, which dagster-dbt shows as checks on each model. The money
reconciliation is one of those: dbt_project/tests/assert_transactions_net_reconciles_with_balance_
transactions.sql names `marts/transactions` in its meta, runs inside every `dbt build`, and a
failure fails the dbt step, so marts that do not reconcile are never published. Running it inside
the build (not as a separate step) matters: the warehouse slot is held per step, so another run
could land rows between a build and a later check and fail it spuriously.

- `dbt_source_freshness` on each `stripe/*` table with a dbt `freshness:` block: the result of
  `dbt source freshness` (warn → a warning, error → a failed check).
"""

import json
from collections.abc import Iterator, Mapping
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from stripe_pipeline.defs.common import WAREHOUSE_POOL, PipelineSettings
from stripe_pipeline.defs.transform.project import dbt_environment, dbt_vars


def build_freshness_checks(manifest: Mapping[str, Any]) -> list[dg.AssetChecksDefinition]:
    sources = {
        unique_id: dg.AssetKey([props["source_name"], props["name"]])
        for unique_id, props in manifest.get("sources", {}).items()
        if _has_freshness(props.get("freshness"))
    }
    if not sources:
        return []

    @dg.multi_asset_check(
        name="dbt_source_freshness",
        specs=[dg.AssetCheckSpec("dbt_source_freshness", asset=key) for key in sources.values()],
        pool=WAREHOUSE_POOL,
        description="`dbt source freshness` on the landed tables that declare a freshness.",
    )
    def dbt_source_freshness(
        context: dg.AssetCheckExecutionContext, dbt: DbtCliResource, settings: PipelineSettings
    ) -> Iterator[dg.AssetCheckResult]:
        run_settings = settings.get()
        select = " ".join(f"source:{key.path[0]}.{key.path[1]}" for key in sources.values())
        with dbt_environment(run_settings):
            invocation = dbt.cli(
                ["source", "freshness", "--select", select, *dbt_vars(run_settings)],
                raise_on_error=False,
            )
        invocation.wait()
        results_path = invocation.target_path / "sources.json"
        results = json.loads(results_path.read_text())["results"] if results_path.is_file() else []
        seen = set()
        for result in results:
            key = sources.get(result.get("unique_id"))
            if key is None:
                continue
            seen.add(key)
            status = result.get("status")
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="dbt_source_freshness",
                passed=status == "pass",
                severity=dg.AssetCheckSeverity.WARN
                if status == "warn"
                else dg.AssetCheckSeverity.ERROR,
                metadata={
                    "status": status or "unknown",
                    "max_loaded_at": str(result.get("max_loaded_at")),
                    "age_seconds": dg.MetadataValue.float(
                        float(result.get("max_loaded_at_time_ago_in_s") or 0)
                    ),
                },
            )
        for key in sources.values():
            if key not in seen:
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name="dbt_source_freshness",
                    passed=False,
                    description="dbt source freshness returned no result: see the dbt log in this step",
                )

    return [dbt_source_freshness]


def _has_freshness(freshness: Any) -> bool:
    if not isinstance(freshness, Mapping):
        return False
    return any(
        isinstance(freshness.get(level), Mapping) and freshness[level].get("count")
        for level in ("warn_after", "error_after")
    )
