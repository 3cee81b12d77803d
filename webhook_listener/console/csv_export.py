"""CSV export of the filtered transactions: DuckDB writes the file itself (COPY), so a million
rows never pass through Python, and the listener streams it from a temporary file.

Amounts are written twice: as the amount a person reads (12.34, or 1500 for JPY) and in the
mart's integer minor units, so a spreadsheet and a reconciliation script both get what they need.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import duckdb

from stripe_pipeline.money import ZERO_DECIMAL
from webhook_listener.console.transactions_query import TransactionFilters

_ZERO_DECIMAL_SQL = ", ".join(f"'{c}'" for c in sorted(ZERO_DECIMAL))


def _amount(column: str) -> str:
    """SQL for `column` (minor units) as exact decimal text in the row's own currency."""
    units = (
        f"(abs({column}) // 100)::varchar || '.' || lpad((abs({column}) % 100)::varchar, 2, '0')"
    )
    return (
        f"case when {column} is null then null "
        f"when lower(currency) in ({_ZERO_DECIMAL_SQL}) then {column}::varchar "
        f"else (case when {column} < 0 then '-' else '' end) || {units} end"
    )


EXPORT_COLUMNS = (
    ("created_at", "strftime(created_at, '%Y-%m-%dT%H:%M:%SZ')"),
    ("project_id", "project_id"),
    ("source", "source"),
    ("external_id", "external_id"),
    ("type", "type"),
    ("status", "status"),
    ("currency", "currency"),
    ("gross", _amount("amount")),
    ("fees", _amount("fee_amount")),
    ("net", _amount("net_amount")),
    ("gross_minor", "amount"),
    ("fees_minor", "fee_amount"),
    ("net_minor", "net_amount"),
    ("product_id", "product_id"),
    ("price_id", "price_id"),
    ("sku_id", "sku_id"),
    ("mapping_status", "mapping_status"),
    ("mapping_note", "mapping_note"),
    ("stripe_account_id", "stripe_account_id"),
)


def write_csv(con: duckdb.DuckDBPyConnection, filters: TransactionFilters) -> Path:
    """The filtered rows, in the page's order, in a new temporary CSV file (the caller deletes it)."""
    where, args = filters.where()
    select = ", ".join(f'{sql} as "{name}"' for name, sql in EXPORT_COLUMNS)
    fd, name = tempfile.mkstemp(prefix="console-transactions-", suffix=".csv")
    os.close(fd)
    path = Path(name)
    try:
        # COPY takes no bound parameters for its file name; the name is ours, not the user's.
        con.execute(
            f"copy (select {select} from marts.transactions {where} {filters.order_by()}) "
            f"to '{path.as_posix()}' (format csv, header true)",
            args,
        )
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    return path
