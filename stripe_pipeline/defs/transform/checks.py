"""Checks beyond dbt's own tests (which dagster-dbt already shows as checks on each model):

- `reconciles_with_balance_transactions` on `marts/transactions`: per account and currency, the
  mart's net equals the net of the landed balance transactions it covers, to the unit. Blocking:
  marts that do not reconcile are not published.
- `dbt_source_freshness` on each `stripe/*` table with a dbt `freshness:` block: the result of
  `dbt source freshness` (warn → a warning, error → a failed check).
"""

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import dagster as dg
from dagster_dbt import DbtCliResource

from stripe_pipeline.defs.common import WAREHOUSE_POOL, PipelineSettings
from stripe_pipeline.defs.transform.project import dbt_environment, dbt_vars

TRANSACTIONS = dg.AssetKey(["marts", "transactions"])

# The same comparison as dbt_project/tests/assert_transactions_net_reconciles_with_balance_
# transactions.sql (which dagster-dbt cannot attach to one asset: it reads two), here so the
# result shows on the mart in the UI and blocks publishing. Payouts and transfers move the
# balance and are not transactions; failed charges have no balance transaction.
RECONCILIATION_SQL = """
with landed as (
    select account_id, lower(currency) as currency, sum(net) as net, count(*) as n
    from stripe.balance_transactions
    where type not like 'payout%' and type not like 'transfer%'
    group by 1, 2
),
mart as (
    select stripe_account_id as account_id, lower(currency) as currency,
           sum(net_amount) as net, count(*) as n
    from marts.transactions
    where source = 'stripe' and balance_transaction_id is not null
    group by 1, 2
)
select coalesce(landed.account_id, mart.account_id) as account_id,
       coalesce(landed.currency, mart.currency) as currency,
       landed.net as landed_net, mart.net as mart_net, landed.n as landed_rows, mart.n as mart_rows
from landed
full outer join mart on landed.account_id = mart.account_id and landed.currency = mart.currency
where landed.net is distinct from mart.net or landed.n is distinct from mart.n
order by 1, 2
"""


def reconcile(warehouse_path: Path) -> tuple[list[dict[str, Any]], int]:
    """(mismatches, account-currency pairs checked) for the warehouse at `warehouse_path`."""
    import duckdb

    with duckdb.connect(str(warehouse_path), read_only=True) as con:
        mismatches = [
            {
                "account_id": a,
                "currency": c,
                "landed_net": ln,
                "mart_net": mn,
                "landed_rows": lr,
                "mart_rows": mr,
            }
            for a, c, ln, mn, lr, mr in con.execute(RECONCILIATION_SQL).fetchall()
        ]
        pairs = con.execute(
            "select count(*) from (select distinct account_id, currency from stripe.balance_transactions)"
        ).fetchone()[0]
    return mismatches, pairs


@dg.asset_check(
    asset=TRANSACTIONS,
    name="reconciles_with_balance_transactions",
    blocking=True,
    pool=WAREHOUSE_POOL,
    description="Per account and currency, net in marts.transactions = net of stripe.balance_transactions, to the unit.",
)
def reconciles_with_balance_transactions(settings: PipelineSettings) -> dg.AssetCheckResult:
    mismatches, pairs = reconcile(settings.get().warehouse_path)
    return dg.AssetCheckResult(
        passed=not mismatches,
        metadata={
            "account_currency_pairs": dg.MetadataValue.int(pairs),
            "mismatches": dg.MetadataValue.json(mismatches[:50]),
        },
        description=(
            "every account and currency reconciles"
            if not mismatches
            else f"{len(mismatches)} account/currency pairs do not reconcile; compare "
            "stripe.balance_transactions with marts.transactions for them"
        ),
    )


def build_freshness_checks(manifest: Mapping[str, Any]) -> list[dg.AssetChecksDefinition]:
    sources = {
        unique_id: dg.AssetKey([props["source_name"], props["name"]])
        for unique_id, props in manifest.get("sources", {}).items()
        if _has_freshness(props.get("freshness"))
    }
    if not sources:
        return []

    @dg.multi_asset_check(
        name="dbt_source_freshness",
        specs=[dg.AssetCheckSpec("dbt_source_freshness", asset=key) for key in sources.values()],
        pool=WAREHOUSE_POOL,
        description="`dbt source freshness` on the landed tables that declare a freshness.",
    )
    def dbt_source_freshness(
        context: dg.AssetCheckExecutionContext, dbt: DbtCliResource, settings: PipelineSettings
    ) -> Iterator[dg.AssetCheckResult]:
        run_settings = settings.get()
        select = " ".join(f"source:{key.path[0]}.{key.path[1]}" for key in sources.values())
        with dbt_environment(run_settings):
            invocation = dbt.cli(
                ["source", "freshness", "--select", select, *dbt_vars(run_settings)],
                raise_on_error=False,
            )
        invocation.wait()
        results_path = invocation.target_path / "sources.json"
        results = json.loads(results_path.read_text())["results"] if results_path.is_file() else []
        seen = set()
        for result in results:
            key = sources.get(result.get("unique_id"))
            if key is None:
                continue
            seen.add(key)
            status = result.get("status")
            yield dg.AssetCheckResult(
                asset_key=key,
                check_name="dbt_source_freshness",
                passed=status == "pass",
                severity=dg.AssetCheckSeverity.WARN
                if status == "warn"
                else dg.AssetCheckSeverity.ERROR,
                metadata={
                    "status": status or "unknown",
                    "max_loaded_at": str(result.get("max_loaded_at")),
                    "age_seconds": dg.MetadataValue.float(
                        float(result.get("max_loaded_at_time_ago_in_s") or 0)
                    ),
                },
            )
        for key in sources.values():
            if key not in seen:
                yield dg.AssetCheckResult(
                    asset_key=key,
                    check_name="dbt_source_freshness",
                    passed=False,
                    description="dbt source freshness returned no result: see the dbt log in this step",
                )

    return [dbt_source_freshness]


def _has_freshness(freshness: Any) -> bool:
    if not isinstance(freshness, Mapping):
        return False
    return any(
        isinstance(freshness.get(level), Mapping) and freshness[level].get("count")
        for level in ("warn_after", "error_after")
    )
