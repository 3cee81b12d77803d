"""Whether the warehouse already holds every dbt view, so a run may leave them as they are.

The webhook fast path skips re-creating views (a view is a stored query that new rows do not
change). That only holds once they exist: a webhook run can come before the first marts run
(the ingest run of a backfill lands the rows, the marts run follows), and an upgrade can add a
view. Either way its dbt build would fail on every model that reads them, so it leaves the
marts to the full marts run that creates them.
"""

from __future__ import annotations

import json
from pathlib import Path

from stripe_pipeline.settings import Settings


def manifest_views(manifest_path: Path) -> set[tuple[str, str]]:
    """(schema, name) of every dbt model materialized as a view."""
    manifest = json.loads(manifest_path.read_text())
    return {
        (node["schema"], node.get("alias") or node["name"])
        for node in manifest["nodes"].values()
        if node["resource_type"] == "model" and node["config"].get("materialized") == "view"
    }


def warehouse_views(settings: Settings) -> set[tuple[str, str]]:
    """(schema, name) of every view in the warehouse (none when it does not exist yet)."""
    query = "select table_schema, table_name from information_schema.views"
    if settings.on_postgres:
        import psycopg2

        with psycopg2.connect(settings.warehouse_url) as con, con.cursor() as cursor:
            cursor.execute(query)
            return {(schema, name) for schema, name in cursor.fetchall()}
    if not Path(settings.warehouse_path).exists():
        return set()
    import duckdb

    con = duckdb.connect(str(settings.warehouse_path), read_only=True)
    try:
        return {(schema, name) for schema, name in con.execute(query).fetchall()}
    finally:
        con.close()


def missing_views(settings: Settings, manifest_path: Path) -> list[str]:
    """`schema.name` of the dbt views the warehouse lacks, sorted."""
    missing = manifest_views(manifest_path) - warehouse_views(settings)
    return sorted(f"{schema}.{name}" for schema, name in missing)
