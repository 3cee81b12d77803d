"""`/healthz` answers 200 only while the ops store can take a write: a store that still answers
SELECT 1 but refuses writes (read-only, disk full) makes every webhook 500, so it must say 503."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from stripe_pipeline.ops_store import OpsStore
from tests.fixtures.listener import charge_succeeded_event, listener_settings, run_listener


def test_healthz_answers_200_on_a_writable_store(listener) -> None:
    with listener.client() as client:
        answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def read_only_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A migrated ops store, then made read-only the way production stores become so: SQLite
    opened read-only (as on a read-only volume), Postgres with read-only transactions (as on a
    standby or a database an operator set read-only)."""
    if request.param == "sqlite":
        path = tmp_path / "ops.sqlite"
        OpsStore.open(f"sqlite:///{path}").close()
        yield f"sqlite:///file:{path}?mode=ro&uri=true"
        return
    url = request.getfixturevalue("fresh_postgres_url")
    with OpsStore.open(url) as store, store.engine.connect() as conn:
        name = url.rsplit("/", 1)[1]
        conn.exec_driver_sql(f'ALTER DATABASE "{name}" SET default_transaction_read_only = on')
        conn.commit()
    yield url


def test_healthz_answers_503_when_the_store_answers_reads_but_refuses_writes(
    read_only_store_url: str, ops_sqlite_url: str
) -> None:
    engine = create_engine(
        read_only_store_url.replace("postgresql://", "postgresql+psycopg2://", 1),
        hide_parameters=True,
    )
    store = OpsStore(engine)
    store.ping()  # reads still work: the old SELECT 1 check said healthy
    settings = listener_settings(ops_sqlite_url)
    try:
        with run_listener(settings, store) as running:
            with running.client() as client:
                health = client.get("/healthz")
            assert health.status_code == 503, health.text
            assert health.json()["status"] == "error"
            assert running.post_event(charge_succeeded_event()).status_code == 500
    finally:
        store.close()


def test_healthz_answers_503_while_webhook_writes_have_just_failed(listener) -> None:
    from sqlalchemy import text

    # A failure only writes meet (disk full looks the same): the probe's own write could pass.
    with listener.store.engine.begin() as conn:
        conn.execute(text("DROP TABLE stripe_webhook_events"))
    assert listener.post_event(charge_succeeded_event()).status_code == 500
    with listener.client() as client:
        health = client.get("/healthz")
    assert health.status_code == 503, health.text
    assert "write" in health.json()["error"]
