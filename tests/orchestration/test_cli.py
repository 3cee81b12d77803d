"""`stripe-pipeline sync` and `stripe-pipeline publish` from the command line."""

from __future__ import annotations

from pathlib import Path

import dagster as dg
import duckdb
import pytest

from stripe_emulator.testing import EmulatorHandle
from stripe_pipeline.cli import main


@pytest.fixture
def cli_env(
    pipeline_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> dict[str, str]:
    for name, value in pipeline_env.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("DAGSTER_HOME", raising=False)
    monkeypatch.chdir(tmp_path)  # no .env of the developer's
    return pipeline_env


def test_sync_named_account_prints_progress_and_records_runs_on_dagster_home(
    cli_env: dict[str, str],
    emulator: EmulatorHandle,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    home = tmp_path / "dagster_home"
    monkeypatch.setenv("DAGSTER_HOME", str(home))
    account = emulator.connected_account_ids[0]

    code = main(["sync", "--account", account, "--no-marts"])

    out = capsys.readouterr().out
    assert code == 0, out
    assert f"syncing {account}" in out and "summary:" in out
    with duckdb.connect(cli_env["WAREHOUSE_PATH"], read_only=True) as con:
        assert (
            con.execute(
                "select count(*) from stripe.charges where account_id = ?", [account]
            ).fetchone()[0]
            > 0
        )
    assert (home / "dagster.yaml").is_file()  # the pool limit came with the new instance
    with dg.DagsterInstance.from_config(str(home)) as instance:
        assert instance.get_dynamic_partitions("stripe_accounts") == [account]
        assert instance.get_runs_count() == 1
    # The secret key reaches the run through the environment, never the run records or logs.
    secret = cli_env["STRIPE_CLIENT_SECRET"].encode()
    leaked = [p for p in home.rglob("*") if p.is_file() and secret in p.read_bytes()]
    assert leaked == []


def test_sync_of_an_account_stripe_refuses_exits_non_zero_and_says_which(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["sync", "--account", "acct_revoked", "--no-marts"])

    captured = capsys.readouterr()
    assert code == 1
    assert "acct_revoked: FAILED" in captured.out
    assert "sync failed" in captured.err
    assert cli_env["STRIPE_CLIENT_SECRET"] not in captured.out + captured.err


def test_publish_without_marts_exits_non_zero_with_what_to_run(
    cli_env: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["publish"])

    assert code == 1
    assert "stripe-pipeline sync" in capsys.readouterr().err
