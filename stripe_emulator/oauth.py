"""connect.stripe.com's OAuth for Connect Standard accounts.

    GET  /oauth/authorize?response_type=code&client_id=ca_...&scope=read_only&state=...&redirect_uri=...
         an HTML page with "Connect" and "Deny" buttons (forms posting back to /oauth/authorize),
         which redirect to redirect_uri with `code` and `state`, or with
         `error=access_denied&error_description=...&state=...`.
         Emulator extension: `account=acct_...` reconnects that (earlier disconnected) account
         instead of creating a new one.
    POST /oauth/token       grant_type=authorization_code&code=ac_...  (or refresh_token)
    POST /oauth/deauthorize client_id=ca_...&stripe_user_id=acct_...

The platform's secret key authenticates /oauth/token and /oauth/deauthorize: `Authorization:
Bearer sk_...` (what the stripe SDK sends), HTTP basic with the key as user name, or a
`client_secret` form field. Errors are Stripe's OAuth bodies:
`{"error": "invalid_grant", "error_description": "..."}`.

The module needs from the store only the small `ConnectBackend` protocol below (`StoreBackend`
implements it), so the OAuth state (codes, tokens) stays here.
"""

from __future__ import annotations

import base64
import html
import secrets
import threading
import time
import weakref
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from stripe_emulator.app import Request, Response, Router, StripeError, mask_key
from stripe_emulator.store import Store

DEFAULT_CLIENT_ID = "ca_emulator"
CODE_TTL_SECONDS = 300.0  # Stripe's authorization codes are short-lived and single-use
SCOPES = ("read_only", "read_write")
DENIED_DESCRIPTION = "The user denied your request"


class ConnectBackend(Protocol):
    """What OAuth needs from the emulator's state."""

    def platform_secret_keys(self) -> set[str]:
        """The platform's secret API keys (for the token exchange)."""
        ...

    def new_account_id(self) -> str:
        """An id for a fresh account a user creates on the authorize page."""
        ...

    def has_account(self, account_id: str) -> bool:
        """Whether the account exists (connected or not)."""
        ...

    def connect_account(self, account_id: str, scope: str) -> None:
        """Make the account connected to the platform (creating it, with generated data, if
        new), so Stripe-Account calls for it succeed."""
        ...

    def register_access_token(self, token: str, account_id: str) -> None:
        """Let the API accept `token` as the connected account's own secret key."""
        ...

    def disconnect_account(self, account_id: str) -> bool:
        """Disconnect it (Stripe-Account calls refused after) and emit
        `account.application.deauthorized`. False if it was not connected."""
        ...


@dataclass
class _Grant:
    account_id: str
    scope: str
    issued: float
    used: bool = False


@dataclass
class OAuthServer:
    backend: ConnectBackend
    client_id: str = DEFAULT_CLIENT_ID
    # None: any redirect_uri is accepted (Stripe checks it against the platform's settings).
    redirect_uris: tuple[str, ...] | None = None
    code_ttl: float = CODE_TTL_SECONDS
    clock: Any = time.time
    _codes: dict[str, _Grant] = field(default_factory=dict)
    _refresh_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    _access_tokens: dict[str, tuple[str, str]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def add_routes(self, router: Router) -> None:
        # connect.stripe.com authenticates with the secret key in the body or header itself.
        router.add("GET", "/oauth/authorize", self.authorize, auth="none")
        router.add("POST", "/oauth/authorize", self.authorize, auth="none")
        router.add("POST", "/oauth/token", self.token, auth="none")
        router.add("POST", "/oauth/deauthorize", self.deauthorize, auth="none")

    def account_for_access_token(self, token: str) -> tuple[str, str] | None:
        """(account id, scope) of an access token this server issued, for API authentication."""
        with self._lock:
            return self._access_tokens.get(token)

    # -- authorize -------------------------------------------------------------------------

    def authorize(self, request: Request) -> Response:
        params: dict[str, str] = {k: str(v) for k, v in request.query.items()}
        if request.method == "POST":
            params.update({k: str(v) for k, v in request.form.items()})
        client_id = params.get("client_id", "")
        if client_id != self.client_id:
            reason = (
                f"No such application: '{client_id}'"
                if client_id
                else "No client_id was provided in the request."
            )
            return _error_page(reason)
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri:
            return _error_page(
                "No redirect_uri was provided, and the emulator keeps no default redirect URI "
                "for this application."
            )
        if self.redirect_uris is not None and redirect_uri not in self.redirect_uris:
            return _error_page(
                f"Invalid redirect URI '{redirect_uri}'. Ensure this uri exactly matches one of "
                "the URIs specified in your application settings."
            )
        state = params.get("state")
        if params.get("response_type", "code") != "code":
            return _redirect(
                redirect_uri,
                error="unsupported_response_type",
                error_description=f"Unsupported response_type: {params.get('response_type')}",
                state=state,
            )
        scope = params.get("scope") or "read_only"
        if scope not in SCOPES:
            return _redirect(
                redirect_uri,
                error="invalid_scope",
                error_description=f"Invalid scope: {scope}. Expected one of: " + ", ".join(SCOPES),
                state=state,
            )
        if params.get("account") and not self.backend.has_account(params["account"]):
            return _error_page(f"No such account: '{params['account']}'")
        if request.method == "GET":
            return _consent_page(params | {"scope": scope})
        if params.get("decision") != "connect":
            return _redirect(
                redirect_uri,
                error="access_denied",
                error_description=DENIED_DESCRIPTION,
                state=state,
            )
        account_id = params.get("account") or self.backend.new_account_id()
        code = "ac_" + secrets.token_hex(16)
        with self._lock:
            self._codes[code] = _Grant(account_id=account_id, scope=scope, issued=self.clock())
        return _redirect(redirect_uri, code=code, scope=scope, state=state)

    # -- token -----------------------------------------------------------------------------

    def token(self, request: Request) -> Response:
        form = {k: str(v) for k, v in request.form.items()}
        if (denied := self._check_secret(request, form)) is not None:
            return denied
        grant_type = form.get("grant_type")
        if not grant_type:
            return _oauth_error("invalid_request", "No grant type specified")
        if grant_type == "authorization_code":
            return self._exchange_code(form)
        if grant_type == "refresh_token":
            return self._refresh(form)
        return _oauth_error("unsupported_grant_type", f"Unsupported grant type: {grant_type}")

    def _exchange_code(self, form: dict[str, str]) -> Response:
        code = form.get("code")
        if not code:
            return _oauth_error("invalid_request", "No authorization code provided")
        with self._lock:
            grant = self._codes.get(code)
            if grant is None:
                return _oauth_error("invalid_grant", f"Authorization code does not exist: {code}")
            if grant.used:
                return _oauth_error(
                    "invalid_grant", f"Authorization code has already been used: {code}"
                )
            if self.clock() - grant.issued > self.code_ttl:
                return _oauth_error("invalid_grant", f"Authorization code expired: {code}")
            grant.used = True
        self.backend.connect_account(grant.account_id, grant.scope)
        refresh_token = "rt_" + secrets.token_hex(24)
        with self._lock:
            self._refresh_tokens[refresh_token] = (grant.account_id, grant.scope)
        return Response(body=self._token_body(grant.account_id, grant.scope, refresh_token))

    def _refresh(self, form: dict[str, str]) -> Response:
        token = form.get("refresh_token")
        if not token:
            return _oauth_error("invalid_request", "No refresh token provided")
        with self._lock:
            found = self._refresh_tokens.get(token)
        if found is None:
            return _oauth_error("invalid_grant", f"Refresh token does not exist: {mask_key(token)}")
        account_id, scope = found
        requested = form.get("scope") or scope
        if requested not in SCOPES or (scope == "read_only" and requested == "read_write"):
            return _oauth_error("invalid_scope", f"Invalid scope: {requested}")
        return Response(body=self._token_body(account_id, requested, token))

    def _token_body(self, account_id: str, scope: str, refresh_token: str) -> dict[str, Any]:
        access_token = "sk_test_" + secrets.token_hex(24)
        with self._lock:
            self._access_tokens[access_token] = (account_id, scope)
        self.backend.register_access_token(access_token, account_id)
        return {
            "access_token": access_token,
            "livemode": False,
            "refresh_token": refresh_token,
            "scope": scope,
            "stripe_publishable_key": "pk_test_" + secrets.token_hex(24),
            "stripe_user_id": account_id,
            "token_type": "bearer",
        }

    # -- deauthorize -----------------------------------------------------------------------

    def deauthorize(self, request: Request) -> Response:
        form = {k: str(v) for k, v in request.form.items()}
        if (denied := self._check_secret(request, form)) is not None:
            return denied
        client_id = form.get("client_id")
        if not client_id:
            return _oauth_error("invalid_request", "No client_id provided")
        if client_id != self.client_id:
            return _oauth_error("invalid_client", f"No such application: '{client_id}'")
        account_id = form.get("stripe_user_id")
        if not account_id:
            return _oauth_error("invalid_request", "No stripe_user_id provided")
        if not self.backend.disconnect_account(account_id):
            return _oauth_error(
                "invalid_client",
                f"This application is not connected to stripe account {account_id}, "
                "or that account does not exist.",
            )
        with self._lock:
            # Stripe revokes the account's tokens with the connection.
            for table in (self._access_tokens, self._refresh_tokens):
                for token in [t for t, (acct, _) in table.items() if acct == account_id]:
                    del table[token]
        return Response(body={"stripe_user_id": account_id})

    def _check_secret(self, request: Request, form: dict[str, str]) -> Response | None:
        supplied = form.get("client_secret") or _key_from_authorization(
            request.headers.get("authorization", "")
        )
        if not supplied:
            return _oauth_error(
                "invalid_client",
                "No authentication was provided. Send your secret API key using the "
                "Authorization header, or as a client_secret POST parameter.",
                status=401,
            )
        if supplied not in self.backend.platform_secret_keys():
            return _oauth_error(
                "invalid_client", f"Invalid API Key provided: {mask_key(supplied)}", status=401
            )
        return None


def _key_from_authorization(header: str) -> str:
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer":
        return value.strip()
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(value.strip()).decode()
        except ValueError:
            return ""
        return decoded.partition(":")[0]
    return ""


def _oauth_error(code: str, description: str, status: int = 400) -> Response:
    return Response(status, {"error": code, "error_description": description})


def _redirect(uri: str, **params: str | None) -> Response:
    parts = urlsplit(uri)
    query = parse_qsl(parts.query, keep_blank_values=True)
    query += [(k, v) for k, v in params.items() if v is not None]
    location = urlunsplit(parts._replace(query=urlencode(query)))
    return Response(302, b"", {"Location": location}, content_type="text/plain")


def _html(page: str, status: int = 200) -> Response:
    return Response(status, page.encode(), content_type="text/html; charset=utf-8")


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 32rem; margin: 4rem auto; color: #1a1f36; }}
.card {{ border: 1px solid #e3e8ee; border-radius: 8px; padding: 2rem; }}
button {{ font-size: 1rem; padding: .5rem 1.25rem; margin-right: .5rem; border-radius: 6px;
  border: 1px solid #635bff; cursor: pointer; }}
button.connect {{ background: #635bff; color: white; }}
button.deny {{ background: white; color: #635bff; }}
</style></head>
<body><div class="card">{content}</div></body></html>
"""


def _consent_page(params: dict[str, str]) -> Response:
    keep = ("client_id", "redirect_uri", "state", "scope", "response_type", "account")
    hidden = "".join(
        f'<input type="hidden" name="{k}" value="{html.escape(params[k], quote=True)}">'
        for k in keep
        if params.get(k) is not None
    )
    access = "read and write" if params["scope"] == "read_write" else "read-only"
    content = f"""
<h1>Connect your Stripe account</h1>
<p>The application <code>{html.escape(params["client_id"])}</code> asks for {access} access
to your Stripe account (Stripe emulator, test mode).</p>
<form method="post" action="/oauth/authorize">{hidden}
<button class="connect" type="submit" name="decision" value="connect">Connect</button>
<button class="deny" type="submit" name="decision" value="deny">Deny</button>
</form>"""
    return _html(_PAGE.format(title="Connect with Stripe", content=content))


def _error_page(reason: str) -> Response:
    content = f"<h1>Something went wrong</h1><p class='error'>{html.escape(reason)}</p>"
    return _html(_PAGE.format(title="Stripe: error", content=content), status=400)


# -- the emulator's backend ------------------------------------------------------------------

_SCOPES: weakref.WeakKeyDictionary[Store, dict[str, str]] = weakref.WeakKeyDictionary()


def connection_scope(store: Store, account_id: str) -> str:
    """The scope the platform holds on a connected account: what its OAuth grant asked for;
    `read_write` for the accounts connected from the start."""
    return _SCOPES.get(store, {}).get(account_id, "read_write")


def read_only_error(api_key: str, account_id: str) -> StripeError:
    return StripeError(
        403,
        f"The provided key '{mask_key(api_key)}' does not have the required permissions for "
        f"this endpoint on account '{account_id}'. Having the 'read_write' scope would allow "
        "this request to continue.",
    )


@dataclass
class StoreBackend:
    """`ConnectBackend` over the emulator's store."""

    store: Store
    client_id: str = DEFAULT_CLIENT_ID
    _handed_out: set[str] = field(default_factory=set)

    def platform_secret_keys(self) -> set[str]:
        store = self.store
        return {k for k, a in store.api_keys.items() if a == store.platform_id}

    def new_account_id(self) -> str:
        """A generated account not connected yet (it has data to sync), else a new empty one."""
        store = self.store
        with store.lock:
            for account_id in store.accounts:
                if (
                    account_id != store.platform_id
                    and not store.is_connected(account_id)
                    and account_id not in self._handed_out
                ):
                    self._handed_out.add(account_id)
                    return account_id
            account = store.create_account()
            self._handed_out.add(account.id)
            return account.id

    def has_account(self, account_id: str) -> bool:
        return account_id != self.store.platform_id and self.store.account(account_id) is not None

    def connect_account(self, account_id: str, scope: str) -> None:
        store = self.store
        with store.lock:
            was_connected = store.is_connected(account_id)
            store.connect(account_id)
            _SCOPES.setdefault(store, {})[account_id] = scope
        if not was_connected:
            account = store.account(account_id)
            assert account is not None
            account.emit_event("account.application.authorized", self._application())

    def register_access_token(self, token: str, account_id: str) -> None:
        self.store.add_api_key(token, account_id)

    def disconnect_account(self, account_id: str) -> bool:
        store = self.store
        account = store.account(account_id)
        if account is None or not store.is_connected(account_id):
            return False
        store.disconnect(account_id)
        _SCOPES.get(store, {}).pop(account_id, None)
        account.emit_event("account.application.deauthorized", self._application())
        return True

    def _application(self) -> dict[str, Any]:
        return {"id": self.client_id, "object": "application", "name": "Stripe emulator platform"}


def register(router: Router, store: Store) -> OAuthServer:
    server = OAuthServer(StoreBackend(store, store.client_id), client_id=store.client_id)
    server.add_routes(router)
    return server
