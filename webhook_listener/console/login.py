"""Signing in with OPERATOR_TOKEN and signing out."""

from __future__ import annotations

import hmac
import logging
import secrets

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webhook_listener.console.session import (
    COOKIE,
    COOKIE_PATH,
    LOGIN_CSRF_COOKIE,
    SESSION_TTL_S,
    FormError,
    console_key,
    current_session,
    new_session_cookie,
    read_form,
    set_cookie,
    signed_in,
)
from webhook_listener.console.templating import render

log = logging.getLogger("webhook_listener.console")
HOME = f"{COOKIE_PATH}/connectors"
LOGIN_CSRF_TTL_S = 3600


def _safe_next(target: str | None) -> str:
    # Only a console page: a crafted ?next= must not send the operator to another site.
    if target and target.startswith(COOKIE_PATH + "/") and not target.startswith("//"):
        return target
    return HOME


def _login_form(request: Request, status: int, error: str | None, next_url: str) -> Response:
    """The form with a login CSRF token: a random value in a cookie and the same in the form
    (nothing else can sign a browser in to this console with an attacker's token)."""
    if not request.app.state.settings.operator_token:
        return render(
            request,
            "login.html",
            503,
            active=None,
            disabled=True,
            error=None,
            next_url=next_url,
            login_csrf="",
        )
    login_csrf = request.cookies.get(LOGIN_CSRF_COOKIE) or secrets.token_urlsafe(24)
    response = render(
        request,
        "login.html",
        status,
        active=None,
        disabled=False,
        error=error,
        next_url=next_url,
        login_csrf=login_csrf,
    )
    set_cookie(request, response, LOGIN_CSRF_COOKIE, login_csrf, LOGIN_CSRF_TTL_S, COOKIE_PATH)
    return response


async def login_page(request: Request) -> Response:
    next_url = _safe_next(request.query_params.get("next"))
    if current_session(request) is not None:
        return RedirectResponse(next_url, status_code=303)
    return _login_form(request, 200, None, next_url)


async def login(request: Request) -> Response:
    token = request.app.state.settings.operator_token
    try:
        form = await read_form(request)
    except FormError as bad:
        return _login_form(request, 400, str(bad), HOME)
    next_url = _safe_next(form.get("next"))
    if not token:
        return _login_form(request, 503, None, next_url)
    expected_csrf = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected_csrf or not hmac.compare_digest(form.get("login_csrf", ""), expected_csrf):
        return _login_form(
            request, 403, "The sign-in form expired; enter the token again.", next_url
        )
    # compare_digest: the time taken must not reveal how much of a guess was right.
    if not hmac.compare_digest(form.get("token", "").strip().encode(), token.encode()):
        log.warning("console sign-in refused: wrong operator token")
        return _login_form(request, 401, "That is not the operator token.", next_url)
    response = RedirectResponse(next_url, status_code=303)
    set_cookie(
        request,
        response,
        COOKIE,
        new_session_cookie(console_key(token)),
        SESSION_TTL_S,
        COOKIE_PATH,
    )
    response.delete_cookie(LOGIN_CSRF_COOKIE, path=COOKIE_PATH)
    log.info("console sign-in")
    return response


@signed_in
async def logout(request: Request) -> Response:
    response = RedirectResponse(f"{COOKIE_PATH}/login", status_code=303)
    response.delete_cookie(COOKIE, path=COOKIE_PATH)
    return response


async def home(request: Request) -> Response:
    return RedirectResponse(HOME, status_code=303)
