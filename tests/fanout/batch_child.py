"""Child process for the batch-run tests: one run of a job over a partition range, on the Dagster
instance at DAGSTER_HOME, with the pipeline's settings from the environment.

    python -m tests.fanout.batch_child '{"job": "stripe_ingest_job", "accounts": [...], "tags": {}}'

Prints one JSON line: the run id and whether it succeeded.
"""

from __future__ import annotations

import json
import os
import sys


def main() -> int:
    spec = json.loads(sys.argv[1])
    import dagster as dg

    from stripe_pipeline.definitions import build_definitions
    from stripe_pipeline.defs.automation.jobs import partition_range_tags
    from stripe_pipeline.defs.common import OpsStoreResource, PipelineSettings

    settings = PipelineSettings(dotenv_path=os.devnull)
    defs = build_definitions(
        resources={"settings": settings, "ops_store": OpsStoreResource(settings=settings)}
    )
    with dg.DagsterInstance.get() as instance:
        result = defs.resolve_job_def(spec["job"]).execute_in_process(
            instance=instance,
            tags={**partition_range_tags(spec["accounts"]), **spec.get("tags", {})},
            raise_on_error=False,
        )
    print(json.dumps({"run_id": result.run_id, "success": result.success}), flush=True)
    return 0 if result.success else 1


if __name__ == "__main__":
    sys.exit(main())
