"""Bringing the operator back to the console after Stripe's authorize page.

The console's Connect button sets a short cookie, scoped to the OAuth callback's path, that
names the nonce of the OAuth state it just issued (signed with the console key). When Stripe
sends the browser back, the callback finds that cookie for that very state and answers with a
redirect to the Connectors page instead of its own small page. A flow started by the operator
API (no cookie, or a cookie for another state) gets the callback's page as before.
"""

from __future__ import annotations

import hmac
from urllib.parse import urlencode

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from webhook_listener.console.session import console_key, set_cookie, sign, unsign
from webhook_listener.oauth_state import STATE_TTL_S

RETURN_COOKIE = "console_oauth_return"
CALLBACK_PATH = "/api/integrations/stripe/oauth/callback"
CONNECTORS_PATH = "/console/connectors"


def remember_return(request: Request, response: Response, nonce: str) -> None:
    key = console_key(request.app.state.settings.operator_token)
    set_cookie(request, response, RETURN_COOKIE, sign(key, nonce), STATE_TTL_S, CALLBACK_PATH)


def console_return(request: Request, nonce: str, **outcome: str) -> Response | None:
    """A redirect to the Connectors page carrying `outcome` in its URL, when this OAuth flow was
    started from the console; None otherwise."""
    token = request.app.state.settings.operator_token
    cookie = request.cookies.get(RETURN_COOKIE)
    if not token or not cookie:
        return None
    value = unsign(console_key(token), cookie)
    if value is None or not hmac.compare_digest(value, nonce):
        return None
    response = RedirectResponse(f"{CONNECTORS_PATH}?{urlencode(outcome)}", status_code=303)
    response.delete_cookie(RETURN_COOKIE, path=CALLBACK_PATH)
    return response
