"""The marts after concurrent batch runs (Postgres): when the last ingest run of one nightly
group has ended, successful or not, one `marts_job` run builds the marts from what landed."""

from __future__ import annotations

import dagster as dg
from dagster._core.definitions.unresolved_asset_job_definition import UnresolvedAssetJobDefinition

from stripe_pipeline.defs.automation.jobs import MARTS_JOB
from stripe_pipeline.defs.automation.schedules import FULL_REFRESH_MARTS
from stripe_pipeline.defs.common import TAG_BATCH_GROUP, TAG_BATCH_RUNS, TAG_TRIGGER

_ENDED = {dg.DagsterRunStatus.SUCCESS, dg.DagsterRunStatus.FAILURE, dg.DagsterRunStatus.CANCELED}


def marts_request(
    instance: dg.DagsterInstance, run: dg.DagsterRun
) -> dg.RunRequest | dg.SkipReason:
    group = run.tags.get(TAG_BATCH_GROUP)
    if not group:
        return dg.SkipReason(f"run {run.run_id} is not part of a batch group")
    expected = int(run.tags.get(TAG_BATCH_RUNS, "1"))
    runs = instance.get_runs(filters=dg.RunsFilter(tags={TAG_BATCH_GROUP: group}))
    ended = [r for r in runs if r.job_name != MARTS_JOB and r.status in _ENDED]
    if len(ended) < expected:
        return dg.SkipReason(f"{len(ended)} of {expected} batch runs of {group} have ended")
    return dg.RunRequest(
        job_name=MARTS_JOB,
        # Both sensors below may see the last run end; the run key makes it one marts run.
        run_key=f"marts:{group}",
        run_config=FULL_REFRESH_MARTS,
        tags={TAG_TRIGGER: "schedule", TAG_BATCH_GROUP: group},
    )


def build_batch_sensors(
    ingest_job: UnresolvedAssetJobDefinition, marts_job: UnresolvedAssetJobDefinition
) -> list[dg.SensorDefinition]:
    @dg.run_status_sensor(
        name="marts_after_batches_sensor",
        run_status=dg.DagsterRunStatus.SUCCESS,
        monitored_jobs=[ingest_job],
        request_job=marts_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="Builds the marts once every concurrent batch run of a nightly group ended.",
    )
    def after_success(context: dg.RunStatusSensorContext) -> dg.RunRequest | dg.SkipReason:
        return marts_request(context.instance, context.dagster_run)

    @dg.run_failure_sensor(
        name="marts_after_failed_batch_sensor",
        monitored_jobs=[ingest_job],
        request_job=marts_job,
        default_status=dg.DefaultSensorStatus.RUNNING,
        description="The same when the last batch run of a group failed: the others' data counts.",
    )
    def after_failure(context: dg.RunFailureSensorContext) -> dg.RunRequest | dg.SkipReason:
        return marts_request(context.instance, context.dagster_run)

    return [after_success, after_failure]
