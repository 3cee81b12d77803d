"""Which project or Stripe account an operator call is about (`project_id` or `account_id`, in
the query string or a JSON body)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request


class BadRequest(Exception):
    def __init__(self, status: int, message: str):
        self.status = status
        self.message = message
        super().__init__(message)


@dataclass(frozen=True)
class Target:
    project_id: str | None
    account_id: str | None


async def request_params(request: Request, max_bytes: int = 64 * 1024) -> dict[str, Any]:
    """Query parameters, overlaid by a JSON object body if there is one."""
    params: dict[str, Any] = dict(request.query_params)
    body = await request.body()
    if len(body) > max_bytes:
        raise BadRequest(400, f"body larger than {max_bytes} bytes")
    if body.strip():
        try:
            data = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BadRequest(400, "the body must be a JSON object") from None
        if not isinstance(data, dict):
            raise BadRequest(400, "the body must be a JSON object")
        params.update(data)
    return params


def target_of(params: dict[str, Any]) -> Target:
    project_id, account_id = params.get("project_id"), params.get("account_id")
    for name, value in (("project_id", project_id), ("account_id", account_id)):
        if value is not None and (not isinstance(value, str) or not value.strip()):
            raise BadRequest(400, f"{name} must be a non-empty string")
    if project_id is None and account_id is None:
        raise BadRequest(400, "give project_id or account_id")
    return Target(project_id=project_id, account_id=account_id)
