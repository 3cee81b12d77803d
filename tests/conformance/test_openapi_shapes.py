"""Responses validate against Stripe's published OpenAPI spec (../shared/stripe, API 2023-08-16).

Validated leniently, as the spec needs: `nullable: true` allows null; fields newer than the spec
are additional properties, which Stripe's schemas allow; a field the spec requires but the
current SDK (API 2026-10-28) no longer has was removed by a newer API version, so its absence is
no error; a null where the spec has no `nullable` but the SDK types the field Optional was made
nullable by a newer version. Every other mismatch (a wrong type, a missing field the SDK still has, an unknown enum
value, a list envelope's url) fails."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest

from stripe_emulator.testing import run_emulator
from tests.conformance import samples
from tests.conformance.sdk_shapes import annotations, class_at, resource_class
from tests.fixtures.services import require_service

SHARED = Path(__file__).resolve().parents[2].parent / "shared" / "stripe"
SPEC_FILE = SHARED / "openapi-subset-2023-08-16.json"

SCHEMAS = {
    "product": "product",
    "price": "price",
    "customer": "customer",
    "payment_intent": "payment_intent",
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "balance_transaction": "balance_transaction",
    "invoice": "invoice",
    "line_item": "line_item",
    "event": "event",
    "account": "account",
    "payout": "payout",
    "application_fee": "application_fee",
}
LIST_PATHS = [
    "/v1/products",
    "/v1/prices",
    "/v1/customers",
    "/v1/payment_intents",
    "/v1/charges",
    "/v1/refunds",
    "/v1/disputes",
    "/v1/balance_transactions",
    "/v1/invoices",
    "/v1/events",
]


def _lenient(node: Any) -> Any:
    """OpenAPI 3.0 schema -> JSON Schema: `nullable` becomes "or null"; extensions dropped."""
    if isinstance(node, list):
        return [_lenient(n) for n in node]
    if not isinstance(node, dict):
        return node
    out = {
        k: _lenient(v)
        for k, v in node.items()
        if not k.startswith("x-") and k not in ("nullable", "description")
    }
    if node.get("nullable"):
        return {"anyOf": [out, {"type": "null"}]}
    return out


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    require_service(
        SPEC_FILE.is_file(),
        f"Stripe's OpenAPI reference data is not at {SPEC_FILE} (it is CI-only reference data)",
    )
    raw = json.loads(SPEC_FILE.read_text())
    return {
        "components": {"schemas": _lenient(raw["components"]["schemas"])},
        "paths": raw["paths"],
    }


@pytest.fixture(scope="module")
def emulated() -> Iterator[tuple[Any, dict[str, list[dict[str, Any]]]]]:
    with run_emulator(seed=9, accounts=1, charges=80) as emu:
        yield emu, samples.collect(emu)


def _significant(error: jsonschema.ValidationError, instance: Any, sdk_cls: type) -> bool:
    """False for mismatches explained by a newer API version (see the module docstring)."""
    if error.validator == "required":
        node = instance
        for step in error.absolute_path:
            node = node[step]
        absent = [name for name in error.validator_value if name not in node]
        cls = class_at(sdk_cls, instance, list(error.absolute_path))
        if cls is None:
            return False  # a sub-object the current SDK does not describe at all
        known = annotations(cls)
        return any(name in known for name in absent)
    if error.validator == "type" and error.instance is None and error.absolute_path:
        # Null where the spec has no `nullable`: fine if the current SDK types the field
        # Optional (Stripe made it nullable after 2023-08-16; its 2026 fixtures send null).
        *parent, name = list(error.absolute_path)
        cls = class_at(sdk_cls, instance, parent)
        return cls is None or "Optional" not in str(annotations(cls).get(name, ""))
    if error.validator in ("anyOf", "oneOf"):
        branches: dict[Any, list[jsonschema.ValidationError]] = {}
        for sub in error.context or ():
            branches.setdefault(sub.relative_schema_path[0], []).append(sub)
        return not any(
            all(not _significant(sub, instance, sdk_cls) for sub in subs)
            for subs in branches.values()
        )
    return True


def _problems(spec: dict, schema_ref: str, obj: dict, sdk_cls: type) -> list[str]:
    validator = jsonschema.Draft7Validator({"$ref": schema_ref, **spec})
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '.'}: {e.message[:300]}"
        for e in validator.iter_errors(obj)
        if _significant(e, obj, sdk_cls)
    ]


@pytest.mark.parametrize("object_type", sorted(SCHEMAS))
def test_objects_validate_against_stripes_schema(spec, emulated, object_type):
    _, found = emulated
    objs = [o for o in found.get(object_type, []) if not o.get("deleted")]
    assert objs, f"no {object_type} sampled"
    sdk_cls = resource_class(object_type)
    problems: set[str] = set()
    for obj in objs:
        problems.update(
            _problems(spec, f"#/components/schemas/{SCHEMAS[object_type]}", obj, sdk_cls)
        )
    assert not problems, "\n".join(sorted(problems)[:40])


def test_deleted_product_validates(spec, emulated):
    _, found = emulated
    deleted = [o for o in found["product"] if o.get("deleted")]
    assert deleted
    for obj in deleted:
        validator = jsonschema.Draft7Validator(
            {"$ref": "#/components/schemas/deleted_product", **spec}
        )
        assert not list(validator.iter_errors(obj))


@pytest.mark.parametrize("path", LIST_PATHS)
def test_list_envelopes_validate_against_the_paths_response(spec, emulated, path):
    emu, _ = emulated
    schema = spec["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    page = httpx.get(
        emu.url(path), params={"limit": 3}, headers={"Authorization": f"Bearer {emu.api_key}"}
    ).json()
    envelope = {k: v for k, v in page.items() if k != "data"}
    properties = {k: v for k, v in schema["properties"].items() if k != "data"}
    required = [name for name in schema["required"] if name != "data"]
    jsonschema.validate(
        envelope, _lenient({**schema, "properties": properties, "required": required})
    )
    assert page["url"] == path


def test_error_bodies_validate(spec, emulated):
    emu, _ = emulated
    answer = httpx.get(
        emu.url("/v1/charges/ch_missing"), headers={"Authorization": f"Bearer {emu.api_key}"}
    )
    assert answer.status_code == 404
    validator = jsonschema.Draft7Validator({"$ref": "#/components/schemas/error", **spec})
    assert not list(validator.iter_errors(answer.json()))
