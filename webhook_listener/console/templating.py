"""Rendering console pages: Jinja2 templates with autoescaping on, so every value is escaped
unless a module hands over `Markup` it built itself (the server-drawn SVG charts)."""

from __future__ import annotations

import functools
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse

from stripe_pipeline.money import format_money

TEMPLATES = Path(__file__).parent / "templates"
NAV = (
    ("connectors", "Connectors"),
    ("transactions", "Transactions"),
    ("analytics", "Analytics"),
    ("catalog", "Catalog"),
)
# No script, style or image from anywhere but this listener: nothing is fetched from the
# internet, and injected markup could not run even if escaping ever failed.
SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "connect-src 'self'; form-action 'self' {connect}; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def url_with(params: dict[str, Any], **changes: Any) -> str:
    """A query string: `params` (lists repeat their name) with `changes` applied; None or ''
    drops a name."""
    merged = {**params, **changes}
    pairs: list[tuple[str, str]] = []
    for name, value in merged.items():
        if value is None or value == "" or value == []:
            continue
        if isinstance(value, list | tuple):
            pairs.extend((name, str(v)) for v in value)
        else:
            pairs.append((name, str(value)))
    return "?" + urlencode(pairs) if pairs else ""


@functools.cache
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["money"] = lambda minor, currency: format_money(minor, currency)
    env.filters["thousands"] = lambda n: f"{int(n or 0):,}"
    env.globals["url_with"] = url_with
    env.globals["nav"] = NAV
    return env


def security_headers(request: Request) -> dict[str, str]:
    headers = dict(SECURITY_HEADERS)
    # The Connect button's form posts here and is answered by a redirect to Stripe's page.
    connect = request.app.state.settings.connect_base
    headers["Content-Security-Policy"] = headers["Content-Security-Policy"].format(connect=connect)
    return headers


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    session = getattr(request.state, "session", None)
    body = (
        environment()
        .get_template(template)
        .render(
            csrf=session.csrf if session else "",
            signed_in=session is not None,
            path=request.url.path,
            **context,
        )
    )
    return HTMLResponse(body, status_code=status, headers=security_headers(request))


def render_message(request: Request, status: int, title: str, message: str) -> HTMLResponse:
    return render(request, "message.html", status, title=title, message=message, active=None)
