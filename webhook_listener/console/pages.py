"""The read-only screens: Transactions (with its count and CSV routes), Analytics, Catalog."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from markupsafe import Markup
from starlette.background import BackgroundTask
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response

from stripe_pipeline.money import format_money
from webhook_listener.console.analytics_query import STRIPE, Overview, overview
from webhook_listener.console.catalog_query import BADGE_LABELS, BADGE_ORDER, catalog_rows
from webhook_listener.console.charts import Series, line_chart
from webhook_listener.console.csv_export import write_csv
from webhook_listener.console.serving import ConsoleDataError, reader
from webhook_listener.console.session import signed_in
from webhook_listener.console.templating import render
from webhook_listener.console.transactions_query import (
    PAGE_SIZE,
    SORT_COLUMNS,
    TransactionFilters,
    count_matching,
    transactions_page,
)

# -- Transactions --------------------------------------------------------------------------------


@signed_in
async def transactions(request: Request) -> Response:
    filters, problems = TransactionFilters.from_query(request.query_params)
    try:
        page = await reader(request).run(lambda con: transactions_page(con, filters))
    except ConsoleDataError as problem:
        return render(
            request,
            "transactions.html",
            active="transactions",
            unavailable=problem.message,
            filters=filters,
            problems=problems,
        )
    return render(
        request,
        "transactions.html",
        active="transactions",
        unavailable=None,
        page=page,
        filters=filters,
        params=filters.query_params(),
        problems=problems,
        filter_names={
            "project": "Project",
            "source": "Source",
            "currency": "Currency",
            "type": "Type",
            "status": "Status",
            "mapping": "Mapping",
        },
        sort_columns=SORT_COLUMNS,
        page_size=PAGE_SIZE,
    )


@signed_in
async def transactions_count(request: Request) -> Response:
    """How many transactions match the filters now: the page polls it to say how many arrived
    since it was opened."""
    filters, _ = TransactionFilters.from_query(request.query_params)
    try:
        count = await reader(request).run(lambda con: count_matching(con, filters))
    except ConsoleDataError as problem:
        return JSONResponse({"count": None, "error": problem.message})
    return JSONResponse({"count": count}, headers={"Cache-Control": "no-store"})


@signed_in
async def transactions_csv(request: Request) -> Response:
    filters, _ = TransactionFilters.from_query(request.query_params)
    try:
        path: Path = await reader(request).run(lambda con: write_csv(con, filters))
    except ConsoleDataError as problem:
        return JSONResponse({"error": problem.message}, status_code=503)
    return FileResponse(
        path,
        media_type="text/csv; charset=utf-8",
        filename="transactions.csv",
        headers={"Cache-Control": "no-store"},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )


# -- Analytics -----------------------------------------------------------------------------------


def _charts(view: Overview) -> list[tuple[str, Markup]]:
    charts = []
    days = sorted({p.day for p in view.daily})
    for currency in view.currencies:
        series = []
        for source in view.selected:
            by_day = {
                p.day: p.gross for p in view.daily if p.currency == currency and p.source == source
            }
            if by_day:
                # A source keeps its colour in every chart and whatever the chips.
                colour = view.sources.index(source)
                series.append(Series(source, [by_day.get(d) for d in days], colour))
        charts.append(
            (
                f"Daily gross in {currency.upper()}",
                line_chart(
                    f"Daily gross in {currency.upper()}, per source",
                    days,
                    series,
                    lambda v, c=currency: format_money(round(v), c),
                ),
            )
        )
    return charts


def _conversion_chart(view: Overview) -> Markup | None:
    if not view.conversion:
        return None
    return line_chart(
        "Payment conversion per day: succeeded / created payment intents",
        [p.day for p in view.conversion],
        [Series("conversion", [p.rate * 100 for p in view.conversion])],
        lambda v: f"{v:.0f}%",
    )


def _chip_links(view: Overview) -> list[tuple[str, bool, list[str]]]:
    """Per source: its name, whether it is on, and the sources the URL names if it is toggled."""
    chips = []
    for source in view.sources:
        on = source in view.selected
        toggled = [s for s in view.sources if (s in view.selected) != (s == source)]
        # All on is the default: the URL then names none. All off is not a view: back to all.
        chips.append((source, on, [] if len(toggled) in (0, len(view.sources)) else toggled))
    return chips


@signed_in
async def analytics(request: Request) -> Response:
    requested = request.query_params.getlist("source")
    project = request.query_params.get("project") or None
    try:
        view = await reader(request).run(lambda con: overview(con, requested, project))
    except ConsoleDataError as problem:
        return render(request, "analytics.html", active="analytics", unavailable=problem.message)
    return render(
        request,
        "analytics.html",
        active="analytics",
        unavailable=None,
        view=view,
        chips=_chip_links(view),
        charts=_charts(view),
        conversion_chart=_conversion_chart(view),
        stripe_on=STRIPE in view.selected,
        params={"source": requested, "project": view.project},
    )


# -- Catalog -------------------------------------------------------------------------------------


@signed_in
async def catalog(request: Request) -> Response:
    project = request.query_params.get("project") or None
    badge = request.query_params.get("badge") or None
    try:
        rows = await reader(request).run(catalog_rows)
    except ConsoleDataError as problem:
        return render(request, "catalog.html", active="catalog", unavailable=problem.message)
    projects = sorted({r.project_id for r in rows})
    in_project = [r for r in rows if project is None or r.project_id == project]
    counts = Counter(r.badge for r in in_project)
    shown = [r for r in in_project if badge is None or r.badge == badge]
    return render(
        request,
        "catalog.html",
        active="catalog",
        unavailable=None,
        rows=shown,
        total=len(rows),
        projects=projects,
        project=project,
        badge=badge,
        badge_counts=[(b, BADGE_LABELS[b], counts[b]) for b in BADGE_ORDER if counts[b]],
        params={"project": project, "badge": badge},
    )
