"""The Catalog page: every Stripe product and price beside the internal one it maps to, plus
internal products no Stripe product matches, each with one badge and the hint that says what
to do (marts.stripe_product_map, marts.stripe_price_map, marts.catalog_mismatches)."""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

# When one object has several problems, the badge shows the one to fix first; every hint is kept.
BADGE_ORDER = (
    "archived_in_stripe",
    "price_mismatch",
    "ambiguous_match",
    "unmapped_in_app",
    "missing_in_stripe",
    "inferred_match",
    "mapped",
)
BADGE_LABELS = {
    "archived_in_stripe": "archived in Stripe",
    "price_mismatch": "price mismatch",
    "ambiguous_match": "ambiguous",
    "unmapped_in_app": "unmapped",
    "missing_in_stripe": "missing in Stripe",
    "inferred_match": "inferred",
    "mapped": "mapped",
}
# The map marts' mapping_status, as a badge when no mismatch row names the object.
_STATUS_BADGE = {
    "mapped": "mapped",
    "inferred": "inferred_match",
    "unmapped": "unmapped_in_app",
    "ambiguous": "ambiguous_match",
}


@dataclass
class CatalogRow:
    entity_type: str  # product or price
    project_id: str
    stripe_account_id: str | None
    stripe_id: str | None
    stripe_name: str | None  # product name, or the price's amount and interval
    stripe_active: bool | None
    internal_id: str | None
    match_method: str | None
    badge: str
    hints: list[str]
    stripe_amount: int | None = None
    stripe_currency: str | None = None
    stripe_interval: str | None = None

    @property
    def badge_label(self) -> str:
        return BADGE_LABELS.get(self.badge, self.badge.replace("_", " "))


def _rank(badge: str) -> int:
    return BADGE_ORDER.index(badge) if badge in BADGE_ORDER else len(BADGE_ORDER)


def catalog_rows(con: duckdb.DuckDBPyConnection) -> list[CatalogRow]:
    rows: dict[tuple[str, str | None, str | None, str | None], CatalogRow] = {}
    for r in con.execute(
        """
        select project_id, stripe_account_id, stripe_product_id, stripe_product_name,
            is_stripe_active, product_id, match_method, mapping_status, mapping_note
        from marts.stripe_product_map
        """
    ).fetchall():
        rows[("product", r[1], r[2], None)] = CatalogRow(
            "product", r[0], r[1], r[2], r[3], r[4], r[5], r[6],
            _STATUS_BADGE.get(r[7], "unmapped_in_app"), [r[8]] if r[8] else [],
        )  # fmt: skip
    for r in con.execute(
        """
        select project_id, stripe_account_id, stripe_price_id, is_stripe_active, price_id,
            match_method, mapping_status, mapping_note, stripe_unit_amount, stripe_currency,
            stripe_interval
        from marts.stripe_price_map
        """
    ).fetchall():
        rows[("price", r[1], r[2], None)] = CatalogRow(
            "price", r[0], r[1], r[2], None, r[3], r[4], r[5],
            _STATUS_BADGE.get(r[6], "unmapped_in_app"), [r[7]] if r[7] else [],
            stripe_amount=r[8], stripe_currency=r[9], stripe_interval=r[10],
        )  # fmt: skip
    mismatched: set[tuple[str, str | None, str | None, str | None]] = set()
    for entity, project_id, account, stripe_id, internal_id, badge, hint in con.execute(
        """
        select entity_type, project_id, stripe_account_id, stripe_id, internal_id, badge, hint
        from marts.catalog_mismatches
        order by entity_type, stripe_id nulls last, internal_id
        """
    ).fetchall():
        key = (entity, account, stripe_id, None if stripe_id else internal_id)
        row = rows.get(key)
        if row is None:
            # An internal product with no Stripe counterpart (missing_in_stripe) has no map row.
            row = rows[key] = CatalogRow(
                entity, project_id, account, stripe_id, None, None, internal_id, None, badge, []
            )
        if key not in mismatched:
            # A mismatch row outranks the map's own status, and its hint already says what
            # the map's note says, plus what to do.
            row.badge, row.hints = badge, []
            mismatched.add(key)
        elif _rank(badge) < _rank(row.badge):
            row.badge = badge
        if hint not in row.hints:
            row.hints.append(hint)
    return sorted(
        rows.values(),
        key=lambda r: (
            r.project_id,
            r.entity_type != "product",
            _rank(r.badge),
            r.stripe_id or "",
            r.internal_id or "",
        ),
    )
