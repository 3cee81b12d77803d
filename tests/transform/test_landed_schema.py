"""One landed schema: stripe_pipeline/stripe_source/columns.py's TABLES says which columns land;
dbt's sources, the staging models and the architecture doc follow it, or this fails saying what
to change."""

from __future__ import annotations

import re

import yaml

from stripe_pipeline.stripe_source import landed_schema
from stripe_pipeline.stripe_source.columns import TABLES
from tests.fixtures.landed import documented_columns
from tests.fixtures.transform import LANDED_COLUMNS

STAGING = landed_schema.SOURCES_YML.parent


def test_dbt_sources_declare_exactly_the_columns_that_land() -> None:
    text = landed_schema.SOURCES_YML.read_text()

    problems = landed_schema.stale_columns(text)

    assert not problems, (
        f"{landed_schema.SOURCES_YML.name} differs from columns.py: {problems}; "
        f"regenerate it: {landed_schema.REGENERATE}"
    )
    assert landed_schema.render(text) == text, (
        f"{landed_schema.SOURCES_YML.name} is not as generated; run {landed_schema.REGENERATE}"
    )


def test_every_landed_column_is_selected_by_its_staging_model() -> None:
    # landed_source hands staging every declared column; a staging model that never names one
    # drops it before the marts. (A name match in the file, not a parse: cheap and strict enough.)
    missing = []
    for table, columns in TABLES.items():
        model = STAGING / f"stg_stripe__{table}.sql"
        sql = model.read_text() if model.is_file() else ""
        missing += [
            f"{model.name}: {c.name}" for c in columns if not re.search(rf"\b{c.name}\b", sql)
        ]
    assert not missing, f"landed columns no staging model selects: {missing}"


def test_the_architecture_doc_lists_exactly_the_landed_columns() -> None:
    documented = documented_columns()

    assert {t: [c.name for c in cs] for t, cs in TABLES.items()} == documented, (
        "docs/architecture.md, 'The landed tables', differs from columns.py's TABLES"
    )


def test_the_transform_fixture_lands_the_same_columns_and_types_as_dbt_declares() -> None:
    declared = yaml.safe_load(landed_schema.SOURCES_YML.read_text())["sources"][0]["tables"]
    fixture = {
        table: [*columns, *landed_schema.DLT_COLUMNS]
        for table, columns in LANDED_COLUMNS["stripe"].items()
    }

    assert fixture == {
        t["name"]: [(c["name"], c["data_type"]) for c in t["columns"]] for t in declared
    }


def test_regenerating_adds_a_new_column_and_table_and_keeps_the_hand_written_config() -> None:
    text = landed_schema.SOURCES_YML.read_text()
    tables = landed_schema.landed_columns()
    tables["charges"] = [*tables["charges"], ("application_fee_amount", "bigint")]
    tables["payouts"] = [("id", "text"), ("account_id", "text"), ("metadata", "json")]

    rendered = yaml.safe_load(landed_schema.render(text, tables))

    stripe = {t["name"]: t for t in rendered["sources"][0]["tables"]}
    charges = [(c["name"], c["data_type"]) for c in stripe["charges"]["columns"]]
    assert charges[-2:] == [("application_fee_amount", "bigint"), ("_dlt_load_id", "text")]
    assert [c["name"] for c in stripe["payouts"]["columns"]] == [
        "id",
        "account_id",
        "metadata",
        "_dlt_load_id",
    ]
    original = yaml.safe_load(text)
    assert (
        stripe["charges"]["config"]
        == {t["name"]: t for t in original["sources"][0]["tables"]}["charges"]["config"]
    )
    assert rendered["models"] == original["models"]


def test_a_stale_yml_is_reported_column_by_column() -> None:
    text = landed_schema.SOURCES_YML.read_text()
    stale = text.replace("          - name: card_brand\n            data_type: text\n", "", 1)

    assert landed_schema.stale_columns(stale) == [
        "column stripe.charges.card_brand (text) is not declared"
    ]
