"""Walk the stripe SDK's typed resource classes (their annotations and nested classes) along an
object, to find fields the SDK does not know."""

from __future__ import annotations

import typing
from typing import Any

import stripe
from stripe._object_classes import OBJECT_CLASSES
from stripe._stripe_object import StripeObject


def resource_class(object_type: str) -> type[StripeObject] | None:
    found = OBJECT_CLASSES.get(object_type)
    if found is None:
        return None
    module_name, class_name = found
    module = __import__(module_name, fromlist=[class_name])
    return getattr(module, class_name)


def annotations(cls: type) -> dict[str, Any]:
    hints: dict[str, Any] = {}
    for klass in reversed(cls.__mro__):
        hints.update(getattr(klass, "__annotations__", {}))
    return hints


def _classes_in(annotation: Any) -> list[type[StripeObject]]:
    """StripeObject classes an annotation names (through Optional, List, Union, ForwardRef,
    ExpandableField, ListObject[...])."""
    if isinstance(annotation, typing.ForwardRef):
        found = getattr(stripe, annotation.__forward_arg__, None)
        return [found] if isinstance(found, type) else []
    if isinstance(annotation, str):
        found = getattr(stripe, annotation, None)
        return [found] if isinstance(found, type) else []
    if isinstance(annotation, type) and issubclass(annotation, StripeObject):
        if annotation.__name__ == "ListObject":
            return []
        return [annotation]
    out: list[type[StripeObject]] = []
    for arg in typing.get_args(annotation):
        out += _classes_in(arg)
    return out


def _pick(value: dict[str, Any], candidates: list[type[StripeObject]]) -> type | None:
    if not candidates:
        return None
    object_type = value.get("object")
    if isinstance(object_type, str):
        by_type = resource_class(object_type)
        if by_type is not None:
            return by_type
    return candidates[0]


def unknown_fields(obj: dict[str, Any], cls: type, path: str) -> list[str]:
    """Paths (`Charge.outcome.foo`) of fields in `obj` that `cls` does not annotate."""
    hints = annotations(cls)
    missing: list[str] = []
    for key, value in obj.items():
        here = f"{path}.{key}"
        if key not in hints:
            missing.append(here)
            continue
        candidates = _classes_in(hints[key])
        if isinstance(value, dict) and value.get("object") == "list":
            items = value.get("data", [])
            item_classes = _classes_in(hints[key])
            for item in items[:3]:
                item_cls = _pick(item, item_classes) or resource_class(item.get("object", ""))
                if item_cls is not None:
                    missing += unknown_fields(item, item_cls, f"{here}[]")
        elif isinstance(value, dict):
            nested = _pick(value, candidates)
            if nested is not None:
                missing += unknown_fields(value, nested, here)
        elif isinstance(value, list):
            for item in value[:3]:
                if isinstance(item, dict):
                    nested = _pick(item, candidates)
                    if nested is not None:
                        missing += unknown_fields(item, nested, f"{here}[]")
    return missing


def class_at(cls: type, instance: Any, path: list[Any]) -> type | None:
    """The SDK class describing the object at `path` inside `instance` (None if unknown)."""
    current: type | None = cls
    node = instance
    for step in path:
        if current is None:
            return None
        if isinstance(step, int):
            node = node[step]
            if isinstance(node, dict) and isinstance(node.get("object"), str):
                current = resource_class(node["object"]) or current
            continue
        hint = annotations(current).get(step)
        node = node[step]
        if hint is None:
            return None
        if isinstance(node, dict) and node.get("object") == "list":
            current = None
            continue
        nested = _pick(node, _classes_in(hint)) if isinstance(node, dict) else None
        if isinstance(node, list):
            candidates = _classes_in(hint)
            current = candidates[0] if candidates else None
            continue
        current = nested
    return current
