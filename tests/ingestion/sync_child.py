"""One `sync_account` in a process of its own, for the tests that kill it with SIGKILL.

    python -m tests.ingestion.sync_child '{"settings": {...}, "account_id": null, "pages": 3}'

Prints the SyncResult as JSON on success.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from stripe_pipeline.settings import Settings
from stripe_pipeline.stripe_source import sync_account

PATH_FIELDS = ("data_dir", "warehouse_path", "serving_dir")


def main(argv: list[str]) -> int:
    config = json.loads(argv[0])
    values = dict(config["settings"])
    for name in PATH_FIELDS:
        if name in values:
            values[name] = Path(values[name])
    result = sync_account(
        Settings(**values), config.get("account_id"), max_pages_per_run=config.get("pages")
    )
    print(json.dumps(result.as_dict()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
