"""The authorization request (reference §2) and the consent decision that answers it."""

import re
from dataclasses import dataclass
from urllib.parse import urlencode

from django.http import QueryDict

from sandbox.clients import find_client
from sandbox.codes import create_code
from sandbox.datacentres import same_cluster
from sandbox.models import Client, Consent, SandboxSettings, ZohoAccount
from sandbox.scopes import InvalidScope, parse_scope

_CHALLENGE = re.compile(r"^[A-Za-z0-9\-._~]{43,128}$")
SINGLE_PARAMS = (
    "client_id",
    "redirect_uri",
    "response_type",
    "scope",
    "access_type",
    "prompt",
    "state",
    "code_challenge",
    "code_challenge_method",
)


class AuthRequestInvalid(Exception):
    """The request cannot proceed. With ``redirect_uri`` the error goes back to the client;
    without one (unknown client or redirect URI) Zoho shows its own error page."""

    def __init__(
        self, error: str, *, redirect_uri: str | None = None, state: str | None = None
    ) -> None:
        super().__init__(error)
        self.error = error
        self.redirect_uri = redirect_uri
        self.state = state


@dataclass(frozen=True)
class AuthRequest:
    client: Client
    redirect_uri: str
    scopes: tuple[str, ...]
    access_type: str
    prompt: str
    state: str | None
    code_challenge: str
    code_challenge_method: str

    @property
    def scope(self) -> str:
        return ",".join(self.scopes)


def parse_auth_request(params: QueryDict, *, dc: str, config: SandboxSettings) -> AuthRequest:
    """Validate an authorization request at ``dc``'s accounts server, Zoho's way."""
    if any(len(params.getlist(name)) > 1 for name in SINGLE_PARAMS):
        raise AuthRequestInvalid("invalid_request")
    client = find_client(params.get("client_id", ""))
    if client is None or dc not in client.data_centres:
        raise AuthRequestInvalid("invalid_client")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:
        raise AuthRequestInvalid("invalid_redirect_uri")
    state = params.get("state")

    def refuse(error: str) -> AuthRequestInvalid:
        return AuthRequestInvalid(error, redirect_uri=redirect_uri, state=state)

    if params.get("response_type") != "code":
        raise refuse("unsupported_response_type")
    try:
        scopes = parse_scope(
            params.get("scope", ""), allow_spaces=config.allow_space_separated_scopes
        )
    except InvalidScope:
        raise refuse("invalid_scope") from None
    access_type = params.get("access_type", "online")
    prompt = params.get("prompt", "")
    if access_type not in ("online", "offline") or prompt not in ("", "consent"):
        raise refuse("invalid_request")
    challenge = params.get("code_challenge", "")
    method = params.get("code_challenge_method", "")
    if challenge:
        method = method or "plain"
        if method not in ("S256", "plain") or not _CHALLENGE.match(challenge):
            raise refuse("invalid_request")
    elif method or config.pkce_required:
        raise refuse("invalid_request")
    return AuthRequest(
        client=client,
        redirect_uri=redirect_uri,
        scopes=tuple(scopes),
        access_type=access_type,
        prompt=prompt,
        state=state,
        code_challenge=challenge,
        code_challenge_method=method if challenge else "",
    )


def offered_accounts(dc: str) -> list[ZohoAccount]:
    """Who may sign in at ``dc``: every multi-DC user, or only China's users in China."""
    return list(
        ZohoAccount.objects.filter(data_centre__in=same_cluster(dc))
        .prefetch_related("orgs")
        .order_by("data_centre", "zuid")
    )


def approve(
    auth: AuthRequest, *, account: ZohoAccount, scope: str | None, config: SandboxSettings
) -> str:
    """Record the consent and return a grant code for ``account``.

    A refresh token is promised only for ``access_type=offline`` on the first consent of this
    user to this client, or with ``prompt=consent``.
    """
    first = not Consent.objects.filter(account=account, client=auth.client).exists()
    Consent.objects.update_or_create(
        account=account, client=auth.client, defaults={"scope": scope or auth.scope}
    )
    return create_code(
        client=auth.client,
        account=account,
        redirect_uri=auth.redirect_uri,
        scope=scope or auth.scope,
        issue_refresh_token=auth.access_type == "offline" and (first or auth.prompt == "consent"),
        code_challenge=auth.code_challenge,
        code_challenge_method=auth.code_challenge_method,
        lifetime=config.code_lifetime,
    )


def callback_url(redirect_uri: str, params: list[tuple[str, str | None]]) -> str:
    """``redirect_uri`` with the given query parameters added (``None`` values left out)."""
    query = urlencode([(name, value) for name, value in params if value is not None])
    return f"{redirect_uri}{'&' if '?' in redirect_uri else '?'}{query}"
