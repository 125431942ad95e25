"""Zoho Accounts OAuth 2.0: authorize URL, code exchange, refresh, revoke, identity."""

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx2
from authlib.integrations.httpx_client import OAuth2Client
from django.conf import settings
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from portal.zoho.datacentres import DataCentre
from portal.zoho.errors import ZohoMisconfigured, ZohoRejected, ZohoUnavailable
from portal.zoho.http import client_options, json_object, oauth_error, upstream

# Zoho's lifetimes are stored as given, never raised: a token Zoho says lives 2 s is not
# handed out as valid for a minute. Only the upper end is bounded.
MAX_EXPIRES_IN = 24 * 3600
_TOKEN_SHAPE = re.compile(r"^[\x21-\x7e]{8,2048}$")
_TEXT_LIMIT = 254


@dataclass(frozen=True)
class TokenSet:
    """What a code exchange returned. Secrets are hidden from ``repr``."""

    access_token: str = field(repr=False)
    refresh_token: str | None = field(repr=False)
    expires_at: datetime
    api_domain: str
    scope: str


@dataclass(frozen=True)
class AccessToken:
    """What a refresh returned (Zoho sends no new refresh token)."""

    access_token: str = field(repr=False)
    expires_at: datetime
    api_domain: str
    refresh_token: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class ZohoUser:
    user_id: str
    email: str
    display_name: str


def client_secret(dc: DataCentre) -> str:
    """The client secret for ``dc``: its own when configured, else the shared one."""
    secret: str = settings.ZOHO_DC_CLIENT_SECRETS.get(dc.code) or settings.ZOHO_CLIENT_SECRET
    if not settings.ZOHO_CLIENT_ID or not secret:
        raise ZohoMisconfigured("client_not_configured")
    return secret


def oauth_client(dc: DataCentre) -> OAuth2Client:
    client = OAuth2Client(
        client_id=settings.ZOHO_CLIENT_ID,
        client_secret=client_secret(dc),
        token_endpoint_auth_method="client_secret_post",
        revocation_endpoint_auth_method="client_secret_post",
        redirect_uri=settings.ZOHO_REDIRECT_URI,
        code_challenge_method="S256",
        **client_options(),
    )
    client.register_compliance_hook("access_token_response", _normalise_token_response)
    client.register_compliance_hook("refresh_token_response", _normalise_token_response)
    return client


def _normalise_token_response(response: httpx2.Response) -> httpx2.Response:
    """Zoho quirks: errors and legacy ``expires_in_sec`` (``expires_in`` then in ms).

    A lifetime that is not a positive number is a malformed answer (``ValueError``); one
    above a day is cut to a day, and none is ever raised.
    """
    body = json_object(response)
    if "error" in body or response.status_code != 200:
        return response
    seconds = _lifetime(body.get("expires_in_sec", body.get("expires_in")))
    body.pop("expires_in_sec", None)
    body["expires_in"] = min(seconds, MAX_EXPIRES_IN)
    return httpx2.Response(200, json=body, request=response.request)


def _lifetime(value: Any) -> int:
    """Seconds from a token answer's lifetime field: a positive finite number, else refused."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("expires_in is not a number")
    if not math.isfinite(value) or value < 1:
        raise ValueError("expires_in out of range")
    return int(min(value, MAX_EXPIRES_IN))


def authorize_url(*, dc: DataCentre, state: str, code_verifier: str) -> str:
    """The URL that sends the browser to Zoho's consent page (PKCE S256, offline, consent)."""
    client = oauth_client(dc)
    url, _ = client.create_authorization_url(
        f"{dc.accounts_url}/oauth/v2/auth",
        state=state,
        code_verifier=code_verifier,
        scope=",".join(settings.ZOHO_SCOPES),
        access_type="offline",
        prompt="consent",
    )
    return str(url)


@sensitive_variables("code", "code_verifier", "token")
def exchange_code(*, dc: DataCentre, code: str, code_verifier: str) -> TokenSet:
    """Trade an authorization code for tokens at ``dc``'s token endpoint (never retried)."""
    sent_at = timezone.now()
    with upstream("token", dc.code), oauth_client(dc) as client:
        token = client.fetch_token(
            f"{dc.accounts_url}/oauth/v2/token",
            grant_type="authorization_code",
            code=code,
            code_verifier=code_verifier,
        )
        return checked_answer(token, dc=dc, sent_at=sent_at)


@sensitive_variables("refresh_token", "token", "answer")
def refresh(*, dc: DataCentre, refresh_token: str) -> AccessToken:
    """Mint a new access token from ``refresh_token``."""
    sent_at = timezone.now()
    with upstream("refresh", dc.code), oauth_client(dc) as client:
        token = client.refresh_token(
            f"{dc.accounts_url}/oauth/v2/token", refresh_token=refresh_token
        )
        answer = checked_answer(token, dc=dc, sent_at=sent_at)
        rotated = answer.refresh_token
        return AccessToken(
            access_token=answer.access_token,
            expires_at=answer.expires_at,
            api_domain=answer.api_domain,
            refresh_token=rotated if rotated and rotated != refresh_token else None,
        )


@sensitive_variables("token")
def revoke(*, dc: DataCentre, token: str) -> None:
    """Revoke a refresh token (and every access token minted from it) at ``dc``.

    Zoho answers 400 for a token it no longer knows; that already is the wanted end state
    (RFC 7009 §2.2), so it counts as success.
    """
    with upstream("revoke", dc.code), oauth_client(dc) as client:
        response = client.revoke_token(f"{dc.accounts_url}/oauth/v2/token/revoke", token=token)
        if response.status_code == 400:
            return
        body = json_object(response)
        if response.status_code != 200:
            response.raise_for_status()
        if "error" in body:
            error = oauth_error(str(body["error"]))
            if isinstance(error, ZohoRejected):
                return
            raise error
        if body.get("status") != "success":
            raise ZohoUnavailable("unexpected_revoke_answer")


@sensitive_variables("access_token")
def user_info(*, dc: DataCentre, access_token: str) -> ZohoUser:
    """Who granted the token: the immutable Zoho user id (ZUID), email and name."""
    with upstream("userinfo", dc.code), httpx2.Client(**client_options()) as client:
        response = client.get(
            f"{dc.accounts_url}/oauth/user/info",
            headers={"Authorization": f"Zoho-oauthtoken {access_token}"},
        )
        if response.status_code in (401, 403):
            raise ZohoRejected("invalid_token")
        body = json_object(response)
        response.raise_for_status()
        user_id = clean_text(body.get("ZUID"), limit=64)
        if not user_id:
            raise ValueError("no ZUID")
        names = (clean_text(body.get("First_Name")), clean_text(body.get("Last_Name")))
        display = clean_text(body.get("Display_Name")) or " ".join(n for n in names if n)
        return ZohoUser(user_id=user_id, email=clean_text(body.get("Email")), display_name=display)


@sensitive_variables("token", "refresh")
def checked_answer(token: dict[str, Any], *, dc: DataCentre, sent_at: datetime) -> TokenSet:
    """A token answer whose every field was checked; anything else is malformed (ValueError).

    The lifetime counts from when the request was sent, so the expiry is never later than
    Zoho's own. ``api_domain`` must be ``dc``'s own API host from the pinned table, and that
    table value is what is kept.
    """
    token_type = token.get("token_type")
    if not isinstance(token_type, str) or token_type.lower() != "bearer":
        raise ValueError("token_type is not Bearer")
    refresh = token.get("refresh_token")
    scope = token.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise ValueError("scope is not a string")
    return TokenSet(
        access_token=_checked_token(token.get("access_token")),
        refresh_token=None if refresh is None else _checked_token(refresh),
        expires_at=sent_at + timedelta(seconds=_lifetime(token.get("expires_in"))),
        api_domain=_checked_api_domain(token.get("api_domain"), dc),
        scope=clean_text(scope, limit=1000),
    )


def _checked_token(value: Any) -> str:
    if not isinstance(value, str) or not _TOKEN_SHAPE.match(value):
        raise ValueError("token missing or malformed")
    return value


def _checked_api_domain(value: Any, dc: DataCentre) -> str:
    """``dc``'s API host when the answer names exactly it; a backend calls whatever is kept."""
    if not isinstance(value, str) or value.rstrip("/").lower() != dc.api_domain.lower():
        raise ValueError("api_domain is not the data centre's")
    return dc.api_domain


def clean_text(value: Any, *, limit: int = _TEXT_LIMIT) -> str:
    """Provider text as a bounded string without control characters (NUL breaks Postgres)."""
    if value is None or isinstance(value, dict | list):
        return ""
    text = "".join(ch for ch in str(value) if ch.isprintable())
    return text[:limit]
