"""marts.analytics_daily and marts.analytics_payment_conversion for the Analytics page.

Money is summed per currency and never across currencies. The source chips select which
sources (stripe, manual, invoice, ... as the mart has them) every figure and chart counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import duckdb

STRIPE = "stripe"
_AMOUNTS = ("gross", "fees", "net", "refunds", "disputes", "count")


@dataclass(frozen=True)
class SourceTotal:
    source: str
    currency: str
    gross: int
    fees: int
    net: int
    refunds: int
    disputes: int
    count: int


@dataclass(frozen=True)
class DailyPoint:
    day: date
    source: str
    currency: str
    gross: int
    net: int


@dataclass(frozen=True)
class ConversionPoint:
    day: date
    created: int
    succeeded: int

    @property
    def rate(self) -> float:
        return self.succeeded / self.created if self.created else 0.0


@dataclass(frozen=True)
class BalanceNow:
    stripe_account_id: str
    project_id: str | None
    currency: str
    available: int
    pending: int


@dataclass(frozen=True)
class PayoutTotal:
    currency: str
    status: str
    count: int
    amount: int
    reconciled: int  # paid automatic payouts whose settled transactions add up to the amount


@dataclass(frozen=True)
class Overview:
    sources: list[str]  # every source in the mart: the chips
    selected: list[str]  # the chips that are on (all of them when the URL names none)
    projects: list[str]
    project: str | None
    totals: list[SourceTotal] = field(default_factory=list)
    daily: list[DailyPoint] = field(default_factory=list)
    conversion: list[ConversionPoint] = field(default_factory=list)
    # Stripe-only, per account: None when the serving file predates marts.balances/payouts.
    balances: list[BalanceNow] | None = None
    payouts: list[PayoutTotal] | None = None

    @property
    def stripe_totals(self) -> list[SourceTotal]:
        return [t for t in self.totals if t.source == STRIPE]

    @property
    def app_totals(self) -> list[SourceTotal]:
        return [t for t in self.totals if t.source != STRIPE]

    @property
    def selected_totals(self) -> list[SourceTotal]:
        """Per currency, every selected source together (still never across currencies)."""
        by_currency: dict[str, list[SourceTotal]] = {}
        for total in self.totals:
            by_currency.setdefault(total.currency, []).append(total)
        return [
            SourceTotal(
                ", ".join(t.source for t in group),
                currency,
                *(sum(getattr(t, f) for t in group) for f in _AMOUNTS),
            )
            for currency, group in sorted(by_currency.items())
        ]

    @property
    def currencies(self) -> list[str]:
        return sorted({p.currency for p in self.daily})


def _chosen(requested: Sequence[str], available: Sequence[str]) -> list[str]:
    chosen = [s for s in available if s in set(requested)]
    return chosen or list(available)


def _source_filter(selected: list[str], project: str | None) -> tuple[str, list[Any]]:
    clauses = [f"source in ({', '.join('?' * len(selected))})"]
    args: list[Any] = list(selected)
    if project:
        clauses.append("project_id = ?")
        args.append(project)
    return "where " + " and ".join(clauses), args


def overview(
    con: duckdb.DuckDBPyConnection, requested_sources: Sequence[str], project: str | None
) -> Overview:
    sources = [
        s
        for (s,) in con.execute(
            "select distinct source from marts.analytics_daily order by source <> 'stripe', source"
        ).fetchall()
    ]
    projects = [
        p
        for (p,) in con.execute(
            "select distinct project_id from marts.analytics_daily order by project_id"
        ).fetchall()
    ]
    project = project if project in projects else None
    selected = _chosen(requested_sources, sources)
    if not selected:
        return Overview(sources, selected, projects, project)
    where, args = _source_filter(selected, project)
    totals = [
        SourceTotal(*row[:2], *(int(v) for v in row[2:]))
        for row in con.execute(
            f"""
            select source, currency, sum(gross_amount), sum(fee_amount), sum(net_amount),
                sum(refund_amount), sum(dispute_amount), sum(transaction_count)
            from marts.analytics_daily {where}
            group by source, currency
            order by source <> 'stripe', source, currency
            """,
            args,
        ).fetchall()
    ]
    daily = [
        DailyPoint(day, source, currency, int(gross), int(net))
        for day, source, currency, gross, net in con.execute(
            f"""
            select date_day, source, currency, sum(gross_amount), sum(net_amount)
            from marts.analytics_daily {where}
            group by date_day, source, currency
            order by date_day, source, currency
            """,
            args,
        ).fetchall()
    ]
    conversion: list[ConversionPoint] = []
    # Payment conversion is measured on Stripe's payment intents: it belongs to the stripe chip.
    if STRIPE in selected:
        project_clause, project_args = ("where project_id = ?", [project]) if project else ("", [])
        conversion = [
            ConversionPoint(day, int(created), int(succeeded))
            for day, created, succeeded in con.execute(
                f"""
                select date_day, sum(payment_intents_created), sum(payment_intents_succeeded)
                from marts.analytics_payment_conversion {project_clause}
                group by date_day order by date_day
                """,
                project_args,
            ).fetchall()
        ]
    balances, payouts = (
        (stripe_balances(con, project), payout_totals(con, project))
        if STRIPE in selected
        else (None, None)
    )
    return Overview(
        sources, selected, projects, project, totals, daily, conversion, balances, payouts
    )


def _published(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    return bool(
        con.execute(
            "select count(*) from information_schema.tables "
            "where table_schema = 'marts' and table_name = ?",
            [table],
        ).fetchone()[0]
    )


# The money marts are per Stripe account; the account's project comes from stripe_accounts.
_ACCOUNT_PROJECT = (
    "left join marts.stripe_accounts as accounts using (stripe_account_id) "
    "where (? is null or accounts.project_id = ?)"
)


def stripe_balances(con: duckdb.DuckDBPyConnection, project: str | None) -> list[BalanceNow] | None:
    if not _published(con, "balances"):
        return None
    rows = con.execute(
        f"""
        select balances.stripe_account_id, accounts.project_id, balances.currency,
            balances.available_amount, balances.pending_amount
        from marts.balances as balances {_ACCOUNT_PROJECT} and balances.is_current
        order by accounts.project_id, balances.stripe_account_id, balances.currency
        """,
        [project, project],
    ).fetchall()
    return [BalanceNow(a, p, c, int(av or 0), int(pe or 0)) for a, p, c, av, pe in rows]


def payout_totals(con: duckdb.DuckDBPyConnection, project: str | None) -> list[PayoutTotal] | None:
    if not _published(con, "payouts"):
        return None
    rows = con.execute(
        f"""
        select payouts.currency, payouts.status, count(*), sum(payouts.amount),
            count(*) filter (where payouts.reconciled)
        from marts.payouts as payouts {_ACCOUNT_PROJECT}
        group by payouts.currency, payouts.status
        order by payouts.currency, payouts.status
        """,
        [project, project],
    ).fetchall()
    return [PayoutTotal(c, s, int(n), int(a or 0), int(r)) for c, s, n, a, r in rows]
