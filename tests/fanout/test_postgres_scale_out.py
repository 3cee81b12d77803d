"""The scale-out path, on the Postgres server at 127.0.0.1:5432: WAREHOUSE_URL lands with dlt's
postgres destination, the Dagster instance lives in Postgres, account batches run as concurrent
runs, dbt builds the marts there, and they equal the DuckDB path's on the same Stripe data."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.defs.automation.batch_sensors import marts_request
from stripe_pipeline.defs.automation.schedules import batch_run_requests
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, OpsStoreResource, PipelineSettings
from tests.fixtures.transform import fresh_postgres_database, postgres_query

pytestmark = [pytest.mark.slow, pytest.mark.postgres]

REPO_ROOT = Path(__file__).resolve().parents[2]
ACCOUNTS = 200
CHARGES = 5
RUNS = 4
# The marts that do not depend on the clock, each with the order its rows are compared in.
MARTS = {
    "transactions": "transaction_id",
    "stripe_product_map": "stripe_account_id, stripe_product_id",
    "stripe_price_map": "stripe_account_id, stripe_price_id",
    "analytics_daily": "date_day, project_id, source, currency",
    "catalog_mismatches": "mismatch_id",
}


@pytest.fixture
def emulator(make_emulator: Callable[..., EmulatorHandle]) -> EmulatorHandle:
    return make_emulator(seed=23, accounts=ACCOUNTS - 1, charges=CHARGES, unconnected_accounts=0)


@pytest.fixture
def dagster_database(postgres_url: str) -> Iterator[str]:
    """A second fresh database, for the Dagster instance's storage."""
    with fresh_postgres_database(postgres_url, "stripe_pipeline_dagster") as name:
        yield name


def _instance_home(tmp_path: Path, postgres_url: str, database: str) -> Path:
    from urllib.parse import urlsplit

    url = urlsplit(postgres_url)
    home = tmp_path / "dagster_home"
    home.mkdir()
    storage = {
        "postgres_db": {
            "hostname": url.hostname,
            "port": url.port or 5432,
            "username": url.username or "postgres",
            "password": url.password or "",
            "db_name": database,
            "scheme": "postgresql+psycopg2",  # as in dagster.postgres.yaml
        }
    }
    (home / "dagster.yaml").write_text(
        json.dumps({"storage": {"postgres": storage}, "telemetry": {"enabled": False}})
    )
    return home


def _defs(env: dict[str, str], tmp_path: Path) -> dg.Definitions:
    from stripe_pipeline.definitions import build_definitions

    settings = PipelineSettings(env_overrides=env, dotenv_path=str(tmp_path / "no.env"))
    return build_definitions(
        resources={"settings": settings, "ops_store": OpsStoreResource(settings=settings)}
    )


def test_account_batches_land_in_postgres_as_concurrent_runs_and_build_the_duckdb_marts(
    emulator: EmulatorHandle,
    pipeline_env: dict[str, str],
    postgres_url: str,
    postgres_database: str,
    dagster_database: str,
    ops_store,
    tmp_path: Path,
) -> None:
    accounts = [emulator.platform_account_id, *emulator.connected_account_ids]
    for n, account in enumerate(emulator.connected_account_ids):
        ops_store.upsert_account(
            project_id=f"proj_{n % 7}", stripe_account_id=account, livemode=False, scope="read_only"
        )
    dsn = postgres_url.rsplit("/", 1)[0] + "/" + postgres_database
    pg_env = {**pipeline_env, "WAREHOUSE_URL": dsn, "STRIPE_SYNC_RUNS": str(RUNS)}
    home = _instance_home(tmp_path, postgres_url, dagster_database)

    with dg.DagsterInstance.from_config(str(home)) as instance:
        instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
        requests = batch_run_requests(accounts, "nightly:test", RUNS)
    assert isinstance(requests, list) and len(requests) == RUNS
    children = []
    for request in requests:
        spec = {
            "job": request.job_name,
            "accounts": [
                request.tags["dagster/asset_partition_range_start"],
                request.tags["dagster/asset_partition_range_end"],
            ],
            "tags": request.tags,
        }
        children.append(
            subprocess.Popen(
                [sys.executable, "-m", "tests.fanout.batch_child", json.dumps(spec)],
                cwd=REPO_ROOT,
                env={**os.environ, **pg_env, "DAGSTER_HOME": str(home)},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
            )
        )
    outputs = [child.communicate(timeout=900)[0].decode() for child in children]
    assert [child.returncode for child in children] == [0] * RUNS, outputs[0][-3000:]

    with dg.DagsterInstance.from_config(str(home)) as instance:
        runs = instance.get_runs(filters=dg.RunsFilter(job_name="stripe_ingest_job"))
        assert len(runs) == RUNS and all(r.status == dg.DagsterRunStatus.SUCCESS for r in runs)
        # The four ran side by side: each started before another ended.
        records = [instance.get_run_record_by_id(r.run_id) for r in runs]
        assert max(r.start_time for r in records) < min(r.end_time for r in records)
        # What marts_after_batches_sensor asks for once the last batch run has ended.
        marts = marts_request(instance, runs[0])
        assert isinstance(marts, dg.RunRequest) and marts.job_name == "marts_job"
        result = (
            _defs(pg_env, tmp_path)
            .resolve_job_def("marts_job")
            .execute_in_process(instance=instance, run_config=marts.run_config, tags=marts.tags)
        )
        assert result.success

    landed = postgres_query(
        dsn, "select account_id, count(*), count(distinct id) from stripe.charges group by 1"
    )
    assert {a for a, _, _ in landed} == set(accounts)
    assert all(n == distinct == CHARGES for _, n, distinct in landed)
    assert not (tmp_path / "data" / "serving" / "stripe.duckdb").exists()  # BI reads Postgres

    # The DuckDB path on the same data: what its nightly schedule asks for (one batch run over
    # every account), then the marts run.
    duck_env = {**pipeline_env, "WAREHOUSE_PATH": str(tmp_path / "duck" / "warehouse.duckdb"),
                "SERVING_DIR": str(tmp_path / "duck" / "serving")}  # fmt: skip
    duck_defs = _defs(duck_env, tmp_path)
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(STRIPE_ACCOUNTS.name, accounts)
        (request,) = batch_run_requests(accounts, "nightly:duckdb", 1)
        ingest = duck_defs.resolve_job_def(request.job_name).execute_in_process(
            instance=instance, tags=request.tags
        )
        (run,) = instance.get_runs(filters=dg.RunsFilter(run_ids=[ingest.run_id]))
        marts = marts_request(instance, run)
        assert isinstance(marts, dg.RunRequest)
        result = duck_defs.resolve_job_def("marts_job").execute_in_process(
            instance=instance, run_config=marts.run_config, tags=marts.tags
        )
        assert result.success
    with duckdb.connect(duck_env["WAREHOUSE_PATH"], read_only=True) as con:
        for table, order_by in MARTS.items():
            # Every column but the dlt load ids a row was derived from: those name each
            # warehouse's own loads.
            columns = ", ".join(
                c
                for (c,) in con.execute(
                    "select column_name from information_schema.columns where table_schema = "
                    "'marts' and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if "load_id" not in c
            )
            sql = f"select {columns} from marts.{table} order by {order_by}"
            expected = con.execute(sql).fetchall()
            actual = postgres_query(dsn, sql)
            assert actual == expected, f"marts.{table} differs between Postgres and DuckDB"
        assert len(con.execute("select * from marts.transactions").fetchall()) > 0
