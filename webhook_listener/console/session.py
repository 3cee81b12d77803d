"""Who is signed in to the console: a signed session cookie, CSRF tokens, the page guard.

    console_session = <session id> . <expires, Unix seconds> . <HMAC-SHA256, base64url>

The cookie is HttpOnly (no script reads it), SameSite=Lax and scoped to /console. Lax, not
Strict: coming back from Stripe's authorize page is a cross-site redirect chain, and a Strict
cookie would not ride on it, so the operator would land on the sign-in form. Every state change
is a POST that also carries a CSRF token derived from the session, which a cross-site form
cannot know.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import parse_qsl, quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

COOKIE = "console_session"
LOGIN_CSRF_COOKIE = "console_login_csrf"
COOKIE_PATH = "/console"
SESSION_TTL_S = 12 * 3600
MAX_FORM_BYTES = 16 * 1024
_KEY_CONTEXT = b"stripe-pipeline console session v1"

Handler = Callable[[Request], Awaitable[Response]]


class FormError(Exception):
    """A POST body the console cannot read (too large or not a form)."""


def console_key(operator_token: str) -> bytes:
    # The session (and the Connect return cookie) are signed with a key derived from
    # OPERATOR_TOKEN, the secret the operator signs in with: no second secret to manage, every
    # listener worker derives the same key, and changing the token signs every session out.
    return hmac.new(operator_token.encode(), _KEY_CONTEXT, hashlib.sha256).digest()


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(key: bytes, value: str) -> str:
    return f"{value}.{_b64(hmac.new(key, value.encode(), hashlib.sha256).digest())}"


def unsign(key: bytes, signed: str) -> str | None:
    """The value inside `signed`, or None when the signature does not match."""
    value, _, signature = signed.rpartition(".")
    if not value or not hmac.compare_digest(sign(key, value), signed):
        return None
    return value


@dataclass(frozen=True)
class Session:
    session_id: str
    expires: int
    csrf: str


def new_session_cookie(key: bytes, now: float | None = None) -> str:
    expires = int(now if now is not None else time.time()) + SESSION_TTL_S
    return sign(key, f"{secrets.token_urlsafe(18)}.{expires}")


def read_session(key: bytes, cookie: str | None, now: float | None = None) -> Session | None:
    if not cookie:
        return None
    value = unsign(key, cookie)
    if value is None:
        return None
    session_id, _, expires_text = value.partition(".")
    if not expires_text.isdigit() or int(expires_text) <= (now if now is not None else time.time()):
        return None
    return Session(session_id, int(expires_text), _csrf_for(key, session_id))


def _csrf_for(key: bytes, session_id: str) -> str:
    return _b64(hmac.new(key, b"csrf:" + session_id.encode(), hashlib.sha256).digest())


def cookie_secure(request: Request) -> bool:
    """Secure cookies whenever the listener is reached over https (its public URL says so)."""
    return request.app.state.settings.listener_public_url.startswith("https://")


def set_cookie(
    request: Request, response: Response, name: str, value: str, max_age: int, path: str
) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path=path,
        httponly=True,
        samesite="lax",
        secure=cookie_secure(request),
    )


async def read_form(request: Request) -> dict[str, str]:
    """An application/x-www-form-urlencoded body as a dict (the last value of a repeated name)."""
    body = await request.body()
    if len(body) > MAX_FORM_BYTES:
        raise FormError(f"the form is larger than {MAX_FORM_BYTES} bytes")
    try:
        return dict(parse_qsl(body.decode("utf-8"), keep_blank_values=True))
    except UnicodeDecodeError:
        raise FormError("the form is not UTF-8") from None


def operator_token(request: Request) -> str:
    return request.app.state.settings.operator_token


def current_session(request: Request) -> Session | None:
    token = operator_token(request)
    if not token:
        return None
    return read_session(console_key(token), request.cookies.get(COOKIE))


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path
    if request.method == "GET" and request.url.query:
        target += "?" + request.url.query
    return RedirectResponse(f"{COOKIE_PATH}/login?next={quote(target, safe='')}", status_code=303)


def signed_in(handler: Handler) -> Handler:
    """The page needs a session; a POST also needs the session's CSRF token in field `csrf`.
    The parsed form of a POST is left in `request.state.form`."""

    @functools.wraps(handler)
    async def guarded(request: Request) -> Response:
        from webhook_listener.console.templating import render_message

        session = current_session(request)
        if session is None:
            return login_redirect(request)
        request.state.session = session
        if request.method == "POST":
            try:
                form = await read_form(request)
            except FormError as bad:
                return render_message(request, 400, "Form refused", str(bad))
            if not hmac.compare_digest(form.get("csrf", ""), session.csrf):
                return render_message(
                    request,
                    403,
                    "Form expired",
                    "This form was not issued by this console session (or the session changed). "
                    "Go back, reload the page and submit it again.",
                )
            request.state.form = form
        return await handler(request)

    return guarded
