"""The landed tables as dbt declares them, generated from `columns.TABLES` (the one place a
landed column is written down).

dbt's `landed_source` macro selects exactly the columns the `stripe` source in
`dbt_project/models/staging/stripe/_stripe__models.yml` declares, so a column added to
`columns.py` but not to that file would land and never reach staging. This module rewrites the
`columns:` list of every table of that source from `TABLES` (and adds a table it lacks), keeping
everything else in the file (descriptions, freshness config, comments, the models) as written:

    .venv/bin/python -m stripe_pipeline.stripe_source.landed_schema          # rewrite the file
    .venv/bin/python -m stripe_pipeline.stripe_source.landed_schema --check  # exit 1 if stale

A test runs the check, so a stale file fails the suite naming the column and this command.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import pyarrow as pa

from stripe_pipeline.stripe_source.columns import BOOL, FLOAT, INT, STRING, TABLES, Column

REPO_ROOT = Path(__file__).resolve().parents[2]
SOURCES_YML = REPO_ROOT / "dbt_project" / "models" / "staging" / "stripe" / "_stripe__models.yml"
REGENERATE = ".venv/bin/python -m stripe_pipeline.stripe_source.landed_schema"

# dlt adds its load id to every table it creates; staging keeps it as dlt_load_id.
DLT_COLUMNS: tuple[tuple[str, str], ...] = (("_dlt_load_id", "text"),)

# The logical types landed_source.sql knows (its `landed_type` macro).
_LOGICAL = {STRING: "text", INT: "bigint", BOOL: "boolean", FLOAT: "double"}

# The yml's layout, as dbt's docs write it and as the file has it: a table entry at six spaces,
# its keys at eight, its columns at ten.
_TABLE = "      - name: "
_TABLE_KEY_INDENT = 8
_COLUMNS = "        columns:"


def logical_type(table: str, column: Column) -> str:
    if column.is_json:
        return "json"
    if pa.types.is_timestamp(column.type):
        return "timestamp"
    try:
        return _LOGICAL[column.type]
    except KeyError:
        raise ValueError(
            f"stripe.{table}.{column.name} has Arrow type {column.type}, which dbt's "
            f"landed_source macro cannot declare; use one of {sorted(map(str, _LOGICAL))}"
        ) from None


def landed_columns() -> dict[str, list[tuple[str, str]]]:
    """Every landed table's columns as (name, logical type), dlt's own columns excluded."""
    return {
        table: [(c.name, logical_type(table, c)) for c in columns]
        for table, columns in TABLES.items()
    }


def _columns_block(columns: list[tuple[str, str]]) -> list[str]:
    lines = [_COLUMNS]
    for name, kind in [*columns, *DLT_COLUMNS]:
        lines += [f"          - name: {name}", f"            data_type: {kind}"]
    return lines


def _indent(line: str) -> int:
    return len(line) - len(line.lstrip(" "))


def _stripe_tables_span(lines: list[str]) -> tuple[int, int]:
    """The lines of the `stripe` source's `tables:` list: (first entry, one past the last)."""
    try:
        source = lines.index("  - name: stripe")
        start = lines.index("    tables:", source) + 1
    except ValueError:
        raise ValueError(f"{SOURCES_YML} declares no `stripe` source with `tables:`") from None
    end = start
    for i in range(start, len(lines)):
        if lines[i].strip() and _indent(lines[i]) <= 4:
            break
        if lines[i].strip():
            end = i + 1
    return start, end


def render(text: str, tables: dict[str, list[tuple[str, str]]] | None = None) -> str:
    """`text` (the sources yml) with every stripe table's `columns:` generated from `tables`
    (default: `TABLES`); a table the yml lacks is appended; one `TABLES` lacks is an error."""
    tables = landed_columns() if tables is None else tables
    lines = text.split("\n")
    start, end = _stripe_tables_span(lines)
    entries = [i for i in range(start, end) if lines[i].startswith(_TABLE)]
    out = lines[:start]
    seen: list[str] = []
    for n, first in enumerate(entries):
        last = entries[n + 1] if n + 1 < len(entries) else end
        name = lines[first][len(_TABLE) :].strip()
        if name not in tables:
            raise ValueError(
                f"{SOURCES_YML.name} declares stripe.{name}, which columns.py's TABLES does not "
                "land: remove it from the yml (and its staging model), or add it to TABLES"
            )
        seen.append(name)
        out += _with_columns(lines[first:last], tables[name])
    for name in tables:
        if name not in seen:
            out += [f"{_TABLE}{name}", *_columns_block(tables[name])]
    out += lines[end:]
    return "\n".join(out)


def _with_columns(entry: list[str], columns: list[tuple[str, str]]) -> list[str]:
    """One table entry with its `columns:` key replaced (or added at its end)."""
    if _COLUMNS not in entry:
        return [*entry, *_columns_block(columns)]
    at = entry.index(_COLUMNS)
    after = at + 1
    while after < len(entry) and (
        not entry[after].strip() or _indent(entry[after]) > _TABLE_KEY_INDENT
    ):
        after += 1
    return [*entry[:at], *_columns_block(columns), *entry[after:]]


def stale_columns(text: str) -> list[str]:
    """What the yml `text` lacks or declares differently from `TABLES`, one line each."""
    import yaml

    declared: dict[str, list[tuple[str, str]]] = {}
    for source in yaml.safe_load(text).get("sources", []):
        if source.get("name") == "stripe":
            for table in source.get("tables", []):
                declared[table["name"]] = [
                    (c["name"], c.get("data_type")) for c in table.get("columns") or []
                ]
    problems = []
    for table, columns in landed_columns().items():
        if table not in declared:
            problems.append(f"table stripe.{table} is not declared")
            continue
        have = dict(declared[table])
        for name, kind in [*columns, *DLT_COLUMNS]:
            if name not in have:
                problems.append(f"column stripe.{table}.{name} ({kind}) is not declared")
            elif have[name] != kind:
                problems.append(
                    f"column stripe.{table}.{name} is declared {have[name]}, columns.py lands {kind}"
                )
        wanted = {name for name, _ in [*columns, *DLT_COLUMNS]}
        problems += [
            f"column stripe.{table}.{name} is declared but columns.py does not land it"
            for name in have
            if name not in wanted
        ]
    problems += [
        f"table stripe.{table} is declared but columns.py does not land it"
        for table in declared
        if table not in TABLES
    ]
    return problems


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the yml is stale")
    args = parser.parse_args(argv)
    current = SOURCES_YML.read_text()
    wanted = render(current)
    if wanted == current:
        return 0
    if args.check:
        problems = stale_columns(current) or ["the columns' order or layout differs"]
        print(f"{SOURCES_YML} is stale:", *problems, f"regenerate it: {REGENERATE}", sep="\n  ")
        return 1
    SOURCES_YML.write_text(wanted)
    print(f"wrote {SOURCES_YML}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
