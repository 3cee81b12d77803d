from __future__ import annotations

from collections.abc import Sequence

import dagster as dg

from stripe_pipeline.defs.automation.batch_sensors import build_batch_sensors
from stripe_pipeline.defs.automation.jobs import (
    MARTS_JOB,
    STRIPE_INGEST_JOB,
    STRIPE_SYNC_JOB,
    build_jobs,
)
from stripe_pipeline.defs.automation.schedules import (
    source_freshness_schedule,
    stripe_nightly_schedule,
)
from stripe_pipeline.defs.automation.sensors import build_sensors


def defs(
    stripe_keys: Sequence[dg.AssetKey],
    downstream_keys: Sequence[dg.AssetKey],
    freshness_checks: Sequence[dg.AssetCheckKey],
) -> dg.Definitions:
    jobs = build_jobs(freshness_checks)
    by_name = {job.name: job for job in jobs}
    sync_job = by_name[STRIPE_SYNC_JOB]
    schedules = [stripe_nightly_schedule]
    if freshness_checks:
        schedules.append(source_freshness_schedule)
    return dg.Definitions(
        jobs=jobs,
        schedules=schedules,
        sensors=[
            *build_sensors(stripe_keys, downstream_keys, sync_job),
            *build_batch_sensors(by_name[STRIPE_INGEST_JOB], by_name[MARTS_JOB]),
        ],
    )
