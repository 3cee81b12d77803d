"""The rows a warning dbt test found, in its Dagster check's metadata.

A dbt test with `store_failures` (the `warn_*` tests on `marts/data_warnings`) writes the rows it
found to a relation of its own; dagster-dbt reports only their count. After the build, a failed
warning check gets the first rows as a Markdown table, so a person sees in the Dagster UI which
account and which object is unexpected without opening the warehouse.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import dagster as dg

from stripe_pipeline.settings import Settings

MAX_ROWS = 20


def stored_failures_relations(manifest_path: Path) -> dict[str, str]:
    """Test name -> the relation its failing rows are stored in (tests with store_failures).
    Schema and name only: the manifest's database is the catalog of whatever file it was parsed
    against, not necessarily the warehouse's."""
    manifest = json.loads(manifest_path.read_text())
    return {
        node["name"]: f'"{node["schema"]}"."{node.get("alias") or node["name"]}"'
        for node in manifest.get("nodes", {}).values()
        if node.get("resource_type") == "test" and node.get("relation_name")
    }


def _markdown(columns: list[str], rows: list[tuple[Any, ...]]) -> str:
    def cell(value: Any) -> str:
        return "" if value is None else str(value).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)


def failed_rows_metadata(settings: Settings, relation: str) -> dict[str, Any]:
    """The first MAX_ROWS rows of `relation` as check metadata (DuckDB warehouses)."""
    if settings.dbt_target != "duckdb":
        return {"failed_rows_relation": relation}
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        cursor = con.execute(f"select * from {relation} limit {MAX_ROWS}")
        columns = [d[0] for d in cursor.description]
        rows = cursor.fetchall()
    except duckdb.Error as exc:
        return {"failed_rows_relation": relation, "failed_rows_error": str(exc)}
    finally:
        con.close()
    return {
        "failed_rows_relation": relation,
        "failed_rows": dg.MetadataValue.md(_markdown(columns, rows)),
    }


def with_failed_rows(
    result: dg.AssetCheckResult, settings: Settings, relations: Mapping[str, str]
) -> dg.AssetCheckResult:
    """`result` with its stored failing rows in the metadata, when the test stores them."""
    relation = relations.get(result.check_name)
    if result.passed or relation is None:
        return result
    return dg.AssetCheckResult(
        asset_key=result.asset_key,
        check_name=result.check_name,
        passed=result.passed,
        severity=result.severity,
        description=result.description,
        metadata={**(result.metadata or {}), **failed_rows_metadata(settings, relation)},
    )
