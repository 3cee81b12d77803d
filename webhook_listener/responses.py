"""Answers the listener gives: short JSON errors for API callers, small HTML pages for people
returning from Stripe's OAuth page. Neither ever echoes a code, token, state or payload."""

from __future__ import annotations

import html

from starlette.responses import HTMLResponse, JSONResponse


def error(status: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status, headers=headers)


def page(status: int, title: str, message: str) -> HTMLResponse:
    body = (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1><p>{html.escape(message)}</p></body></html>"
    )
    # The page follows a URL that carried an OAuth code: never cache it, never leak the referrer.
    return HTMLResponse(
        body,
        status_code=status,
        headers={"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"},
    )
