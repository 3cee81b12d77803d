"""The nightly reconcile: every account's partition in one run, then the marts once."""

import dagster as dg

from stripe_pipeline.defs.automation.jobs import SOURCE_FRESHNESS_JOB, STRIPE_SYNC_JOB
from stripe_pipeline.defs.common import STRIPE_ACCOUNTS, TAG_TRIGGER

NIGHTLY_CRON = "0 2 * * *"


def nightly_run_request(partition_keys: list[str], run_key: str) -> dg.RunRequest | dg.SkipReason:
    if not partition_keys:
        return dg.SkipReason(
            "no Stripe accounts yet: stripe_accounts_sensor adds them from the ops store"
        )
    return dg.RunRequest(
        job_name=STRIPE_SYNC_JOB,
        run_key=run_key,
        # One run over the whole partition range: the Stripe assets (single-run backfill policy)
        # load the accounts one after another, then dbt builds and publishes the marts once.
        tags={
            "dagster/asset_partition_range_start": partition_keys[0],
            "dagster/asset_partition_range_end": partition_keys[-1],
            TAG_TRIGGER: "schedule",
        },
        # Nightly, dbt rebuilds the incremental marts in full, so catalog remaps reach old rows.
        run_config={"ops": {"dbt_models": {"config": {"full_refresh": True}}}},
    )


@dg.schedule(
    name="stripe_nightly_schedule",
    cron_schedule=NIGHTLY_CRON,
    execution_timezone="UTC",
    job_name=STRIPE_SYNC_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="02:00 UTC: sync every Stripe account (one run), rebuild the marts in full, publish.",
)
def stripe_nightly_schedule(context: dg.ScheduleEvaluationContext) -> dg.RunRequest | dg.SkipReason:
    keys = context.instance.get_dynamic_partitions(STRIPE_ACCOUNTS.name)
    scheduled = context.scheduled_execution_time
    stamp = scheduled.strftime("%Y-%m-%d") if scheduled else "manual"
    return nightly_run_request(list(keys), run_key=f"nightly:{stamp}")


source_freshness_schedule = dg.ScheduleDefinition(
    name="source_freshness_schedule",
    cron_schedule="30 * * * *",
    execution_timezone="UTC",
    job_name=SOURCE_FRESHNESS_JOB,
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Hourly: `dbt source freshness` on the landed Stripe tables, shown as asset checks.",
)
