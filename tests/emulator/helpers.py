"""Raw HTTP calls to the emulator, for asserting on status codes, headers and error bodies."""

from __future__ import annotations

from typing import Any

import httpx

from stripe_emulator.testing import EmulatorHandle


def get(
    emu: EmulatorHandle,
    path: str,
    params: dict[str, Any] | list[tuple[str, Any]] | None = None,
    account: str | None = None,
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {key or emu.api_key}"}
    if account:
        headers["Stripe-Account"] = account
    return httpx.get(emu.url(path), params=params, headers=headers, timeout=30)


def ids(response: httpx.Response) -> list[str]:
    return [o["id"] for o in response.json()["data"]]
