"""The dbt project as Dagster sees it: where it lives, and how a dbt invocation reaches the
warehouse that the run's settings name."""

from __future__ import annotations

import json
import os
import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

from dagster_dbt import DbtProject

from stripe_pipeline.settings import Settings

DBT_PROJECT_DIR = Path(__file__).resolve().parents[3] / "dbt_project"


@cache
def dbt_project() -> DbtProject:
    """Cached so the manifest is parsed once per process. The manifest comes from setup
    (`scripts/setup` runs `dbt parse`; `dagster-dbt project prepare-and-package` works too);
    under `dagster dev` it is rebuilt on load so model edits show without a manual parse."""
    project = DbtProject(project_dir=DBT_PROJECT_DIR, profiles_dir=DBT_PROJECT_DIR)
    _put_dbt_on_path()
    project.prepare_if_dev()
    return project


def _put_dbt_on_path() -> None:
    # `dagster dev` started as .venv/bin/dagster (venv not activated) has no dbt on PATH, and
    # dagster-dbt's manifest preparer looks dbt up there by name; the venv's dbt is the one.
    if shutil.which("dbt") is None and Path(dbt_executable()).is_file():
        bin_dir = str(Path(dbt_executable()).parent)
        os.environ["PATH"] = os.pathsep.join([bin_dir, os.environ.get("PATH", "")])


def dbt_executable() -> str:
    """The dbt beside this Python (the project's .venv), which need not be on PATH when Dagster
    or the CLI runs as `.venv/bin/...`."""
    beside = Path(sys.executable).parent / "dbt"
    return str(beside) if beside.is_file() else (shutil.which("dbt") or "dbt")


def manifest_path() -> Path:
    path = dbt_project().manifest_path
    if not path.is_file():
        raise FileNotFoundError(
            f"no dbt manifest at {path}: run scripts/setup (or `cd dbt_project && dbt parse "
            "--profiles-dir .`) before loading the Dagster definitions"
        )
    return path


def dbt_vars(settings: Settings) -> list[str]:
    return ["--vars", json.dumps({"platform_project_id": settings.platform_project_id})]


@contextmanager
def dbt_environment(settings: Settings) -> Iterator[None]:
    """The profile reads WAREHOUSE_PATH and DBT_TARGET from the environment, and dagster-dbt
    hands dbt a copy of os.environ when it starts the process; set them for that moment only,
    so a run built from non-default settings (tests, the demo) reaches its own warehouse."""
    wanted = {
        "WAREHOUSE_PATH": str(Path(settings.warehouse_path).resolve()),
        "DBT_TARGET": settings.dbt_target,
        # WAREHOUSE_URL (Postgres): the same database dlt lands in.
        **(settings.dbt_postgres_env() if settings.on_postgres else {}),
    }
    previous = {name: os.environ.get(name) for name in wanted}
    os.environ.update(wanted)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def keep_partial_parse(invocation_target: Path) -> None:
    """Make the partial-parse file of a finished invocation the one the next invocation starts
    from. dagster-dbt gives each invocation its own target folder, seeded from the project's
    `target/partial_parse.msgpack`; that one comes from setup's `dbt parse`, whose profile (the
    default WAREHOUSE_PATH) differs from the run's, so dbt re-parsed the whole project on every
    run (about 2 s). dbt still checks the file against the project, profile and vars, and parses
    in full when anything differs, so a stale or foreign copy costs time, never correctness."""
    produced = Path(invocation_target) / "partial_parse.msgpack"
    if not produced.is_file():
        return
    # Where dagster-dbt seeds invocations from: DBT_TARGET_PATH when set (the tests set it, so
    # nothing lands in the repository), else the project's target/.
    target = Path(os.environ.get("DBT_TARGET_PATH") or dbt_project().target_path)
    if not target.is_absolute():
        target = dbt_project().project_dir / target
    shared = target / "partial_parse.msgpack"
    temporary = shared.with_name(f".partial_parse.{os.getpid()}.msgpack")
    try:
        target.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(produced, temporary)
        os.replace(temporary, shared)  # readers see the old file or the new one, never half
    except OSError:
        temporary.unlink(missing_ok=True)
