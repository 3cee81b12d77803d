"""marts.transactions for the Transactions page: filters from the URL, whitelisted sorting,
paging, per-currency totals of the filtered rows, and the values each filter can take.

Every value reaches DuckDB as a bound parameter; column names come only from the whitelists
below, never from the URL.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta
from typing import Any

import duckdb

PAGE_SIZE = 50
# URL name -> column. These are also the only columns a filter can touch.
FILTER_COLUMNS = {
    "project": "project_id",
    "source": "source",
    "currency": "currency",
    "type": "type",
    "status": "status",
    "mapping": "mapping_status",
}
SORT_COLUMNS = {
    "created_at": "created_at",
    "project": "project_id",
    "source": "source",
    "type": "type",
    "status": "status",
    "currency": "currency",
    "gross": "amount",
    "fees": "fee_amount",
    "net": "net_amount",
    "mapping": "mapping_status",
}
ROW_COLUMNS = (
    "transaction_id",
    "created_at",
    "project_id",
    "source",
    "external_id",
    "type",
    "status",
    "currency",
    "amount",
    "fee_amount",
    "net_amount",
    "product_id",
    "price_id",
    "sku_id",
    "mapping_status",
    "mapping_note",
    "stripe_account_id",
)


@dataclass(frozen=True)
class TransactionFilters:
    values: dict[str, str] = field(default_factory=dict)  # URL name -> chosen value
    date_from: date | None = None
    date_to: date | None = None  # inclusive
    sort: str = "created_at"
    descending: bool = True
    page: int = 1

    @classmethod
    def from_query(cls, params: Mapping[str, str]) -> tuple[TransactionFilters, list[str]]:
        """The filters in `params`, and a message for each value that was ignored."""
        problems: list[str] = []
        values = {
            name: params[name].strip() for name in FILTER_COLUMNS if params.get(name, "").strip()
        }
        dates: dict[str, date | None] = {}
        for name in ("from", "to"):
            text = params.get(name, "").strip()
            dates[name] = None
            if text:
                try:
                    dates[name] = date.fromisoformat(text)
                except ValueError:
                    problems.append(
                        f"'{text[:40]}' is not a date (YYYY-MM-DD); the {name} date is ignored"
                    )
        sort = params.get("sort", "created_at")
        if sort not in SORT_COLUMNS:
            problems.append(f"cannot sort by '{sort[:40]}'; sorted by date instead")
            sort = "created_at"
        page_text = params.get("page", "1")
        page = int(page_text) if page_text.isdigit() and int(page_text) >= 1 else 1
        return (
            cls(
                values=values,
                date_from=dates["from"],
                date_to=dates["to"],
                sort=sort,
                descending=params.get("dir", "desc") != "asc",
                page=page,
            ),
            problems,
        )

    def query_params(self) -> dict[str, Any]:
        """The filters as URL parameters (what keeps them in the URL across links)."""
        params: dict[str, Any] = dict(self.values)
        if self.date_from:
            params["from"] = self.date_from.isoformat()
        if self.date_to:
            params["to"] = self.date_to.isoformat()
        if self.sort != "created_at":
            params["sort"] = self.sort
        if not self.descending:
            params["dir"] = "asc"
        if self.page > 1:
            params["page"] = self.page
        return params

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        args: list[Any] = []
        for name, value in self.values.items():
            clauses.append(f"{FILTER_COLUMNS[name]} = ?")
            args.append(value)
        if self.date_from:
            clauses.append("created_at >= ?")
            args.append(datetime.combine(self.date_from, datetime.min.time()))
        if self.date_to:
            clauses.append("created_at < ?")
            args.append(datetime.combine(self.date_to + timedelta(days=1), datetime.min.time()))
        return ("where " + " and ".join(clauses) if clauses else ""), args

    def order_by(self) -> str:
        direction = "desc" if self.descending else "asc"
        # transaction_id breaks ties, so paging never repeats or skips a row.
        return (
            f"order by {SORT_COLUMNS[self.sort]} {direction} nulls last, transaction_id {direction}"
        )

    def with_page(self, page: int) -> TransactionFilters:
        return replace(self, page=page)


@dataclass(frozen=True)
class CurrencyTotal:
    currency: str
    count: int
    gross: int
    fees: int
    net: int


@dataclass(frozen=True)
class TransactionsPage:
    rows: list[dict[str, Any]]
    totals: list[CurrencyTotal]  # one per currency, never summed across currencies
    facets: dict[str, list[str]]  # URL filter name -> values present in the mart
    filters: TransactionFilters

    @property
    def count(self) -> int:
        return sum(t.count for t in self.totals)

    @property
    def pages(self) -> int:
        return max(1, -(-self.count // PAGE_SIZE))


def facets(con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values each filter can take, from one pass over the mart."""
    sets = ", ".join(f"({column})" for column in FILTER_COLUMNS.values())
    columns = ", ".join(FILTER_COLUMNS.values())
    rows = con.execute(
        f"select {columns} from marts.transactions group by grouping sets ({sets})"
    ).fetchall()
    found: dict[str, list[str]] = {name: [] for name in FILTER_COLUMNS}
    for row in rows:
        for name, value in zip(FILTER_COLUMNS, row, strict=True):
            if value is not None:
                found[name].append(str(value))
    return {name: sorted(values) for name, values in found.items()}


def totals(con: duckdb.DuckDBPyConnection, filters: TransactionFilters) -> list[CurrencyTotal]:
    where, args = filters.where()
    rows = con.execute(
        f"""
        select currency, count(*), coalesce(sum(amount), 0), coalesce(sum(fee_amount), 0),
            coalesce(sum(net_amount), 0)
        from marts.transactions {where}
        group by currency order by currency
        """,
        args,
    ).fetchall()
    return [CurrencyTotal(str(c), int(n), int(g), int(f), int(net)) for c, n, g, f, net in rows]


def page_rows(con: duckdb.DuckDBPyConnection, filters: TransactionFilters) -> list[dict[str, Any]]:
    where, args = filters.where()
    cursor = con.execute(
        f"select {', '.join(ROW_COLUMNS)} from marts.transactions {where} "
        f"{filters.order_by()} limit ? offset ?",
        [*args, PAGE_SIZE, (filters.page - 1) * PAGE_SIZE],
    )
    return [dict(zip(ROW_COLUMNS, row, strict=True)) for row in cursor.fetchall()]


def transactions_page(
    con: duckdb.DuckDBPyConnection, filters: TransactionFilters
) -> TransactionsPage:
    return TransactionsPage(
        rows=page_rows(con, filters),
        totals=totals(con, filters),
        facets=facets(con),
        filters=filters,
    )


def count_matching(con: duckdb.DuckDBPyConnection, filters: TransactionFilters) -> int:
    where, args = filters.where()
    return int(con.execute(f"select count(*) from marts.transactions {where}", args).fetchone()[0])
