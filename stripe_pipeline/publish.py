"""`stripe-pipeline publish`: copy every table of schema `marts` to the serving files BI tools read.

Layout under `SERVING_DIR` (default `data/serving`):

    stripe.duckdb              every mart as a table in schema `marts` (open it read-only)
    parquet/<mart>.parquet     the same tables as Parquet files
    manifest.json              when, from which warehouse, which tables and how many rows

Each file is written under a temporary name in the same folder and then renamed over the old one
(`os.replace`, atomic on one filesystem). A BI tool holding a connection to the old
`stripe.duckdb` keeps reading the old file (its inode stays alive until it closes) and never
blocks a publish; a new connection sees the new marts; nobody sees a half-written file.
Publishing never opens the serving file for writing, so readers need not stop.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from stripe_pipeline.settings import Settings

# Not "marts.duckdb": DuckDB names the catalog after the file, and a catalog named like the
# schema makes `marts.transactions` ambiguous for every BI query.
SERVING_DB = "stripe.duckdb"
PARQUET_DIR = "parquet"
MANIFEST = "manifest.json"
MARTS_SCHEMA = "marts"


class PublishError(RuntimeError):
    """Nothing to publish, or the warehouse could not be read; the message says what to do."""


@dataclass(frozen=True)
class PublishResult:
    serving_path: Path
    parquet_dir: Path
    row_counts: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def tables(self) -> list[str]:
        return sorted(self.row_counts)


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _fsync(path: Path) -> None:
    # Rename is atomic, but without fsync a crash could leave the new name pointing at a file
    # whose blocks never reached the disk.
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _temp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def publish_marts(warehouse_path: Path, serving_dir: Path) -> PublishResult:
    """Publish the marts of the DuckDB warehouse at `warehouse_path` into `serving_dir`."""
    import duckdb

    started = time.perf_counter()
    warehouse_path = Path(warehouse_path).resolve()
    serving_dir = Path(serving_dir).resolve()
    if not warehouse_path.is_file():
        raise PublishError(
            f"no warehouse at {warehouse_path}: run `stripe-pipeline sync` (or materialize the "
            "assets) first, or set WAREHOUSE_PATH"
        )
    parquet_dir = serving_dir / PARQUET_DIR
    parquet_dir.mkdir(parents=True, exist_ok=True)
    serving_path = serving_dir / SERVING_DB
    temp_db = _temp_name(serving_path)
    temp_db.unlink(missing_ok=True)

    row_counts: dict[str, int] = {}
    temp_parquet: dict[str, Path] = {}
    con = duckdb.connect(str(temp_db))
    try:
        try:
            con.execute(f"ATTACH {_sql_string(str(warehouse_path))} AS wh (READ_ONLY)")
        except duckdb.IOException as exc:
            raise PublishError(
                f"could not open the warehouse {warehouse_path} read-only ({exc}); another process "
                "holds it for writing: publish after the running sync finishes"
            ) from None
        tables = [
            row[0]
            for row in con.execute(
                "select table_name from information_schema.tables "
                "where table_catalog = 'wh' and table_schema = ? order by table_name",
                [MARTS_SCHEMA],
            ).fetchall()
        ]
        if not tables:
            raise PublishError(
                f"the warehouse {warehouse_path} has no tables in schema `{MARTS_SCHEMA}`: build the "
                "marts first (`stripe-pipeline sync`, or `dbt build` in dbt_project/)"
            )
        # Fully qualified: the temporary file's catalog may itself be named like the schema.
        local = _quote(con.execute("select current_database()").fetchone()[0])
        con.execute(f"CREATE SCHEMA {local}.{MARTS_SCHEMA}")
        for table in tables:
            target = f"{local}.{MARTS_SCHEMA}.{_quote(table)}"
            con.execute(f"CREATE TABLE {target} AS SELECT * FROM wh.{MARTS_SCHEMA}.{_quote(table)}")
            row_counts[table] = con.execute(f"SELECT count(*) FROM {target}").fetchone()[0]
            parquet_path = _temp_name(parquet_dir / f"{table}.parquet")
            con.execute(
                f"COPY {target} TO {_sql_string(str(parquet_path))} (FORMAT parquet, COMPRESSION zstd)"
            )
            temp_parquet[table] = parquet_path
        con.execute("DETACH wh")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        temp_db.unlink(missing_ok=True)
        for path in temp_parquet.values():
            path.unlink(missing_ok=True)
        raise
    con.close()

    # The DuckDB file first: it is what most BI tools open, and it alone is one consistent
    # snapshot of all marts. Parquet files follow, each replaced atomically on its own.
    _fsync(temp_db)
    os.replace(temp_db, serving_path)
    for table, path in temp_parquet.items():
        _fsync(path)
        os.replace(path, parquet_dir / f"{table}.parquet")
    for stale in parquet_dir.glob("*.parquet"):
        if stale.stem not in row_counts:
            stale.unlink(missing_ok=True)

    manifest = {
        "published_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "warehouse": str(warehouse_path),
        "serving_db": str(serving_path),
        "tables": {
            t: {"rows": n, "parquet": f"{PARQUET_DIR}/{t}.parquet"} for t, n in row_counts.items()
        },
    }
    temp_manifest = _temp_name(serving_dir / MANIFEST)
    temp_manifest.write_text(json.dumps(manifest, indent=2) + "\n")
    os.replace(temp_manifest, serving_dir / MANIFEST)
    return PublishResult(
        serving_path=serving_path,
        parquet_dir=parquet_dir,
        row_counts=row_counts,
        seconds=time.perf_counter() - started,
    )


def publish(settings: Settings) -> PublishResult | None:
    """Publish the marts; None on a Postgres warehouse (WAREHOUSE_URL), where BI tools read the
    `marts` schema directly: Postgres serves readers while the pipeline writes, so no copy is
    needed."""
    if settings.on_postgres:
        return None
    return publish_marts(settings.warehouse_path, settings.serving_dir)


# -- command line -------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--warehouse",
        type=Path,
        default=None,
        help="the DuckDB warehouse (default: WAREHOUSE_PATH)",
    )
    parser.add_argument(
        "--serving-dir", type=Path, default=None, help="where to publish (default: SERVING_DIR)"
    )


def run(args: argparse.Namespace) -> int:
    import sys

    from stripe_pipeline.settings import ConfigError, load_settings

    try:
        settings = load_settings()
        if settings.on_postgres and args.warehouse is None:
            print(
                "nothing to publish: WAREHOUSE_URL is a Postgres warehouse, whose `marts` schema "
                "BI tools read directly"
            )
            return 0
        result = publish_marts(
            args.warehouse or settings.warehouse_path, args.serving_dir or settings.serving_dir
        )
    except (PublishError, ConfigError) as exc:
        print(f"publish failed: {exc}", file=sys.stderr)
        return 1
    for table in result.tables:
        print(f"  {MARTS_SCHEMA}.{table}: {result.row_counts[table]} rows")
    print(
        f"published {len(result.tables)} marts to {result.serving_path} and "
        f"{result.parquet_dir}/ in {result.seconds:.1f}s"
    )
    return 0
