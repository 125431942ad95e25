"""Zoho's migration API: a legacy Desk authtoken becomes an OAuth grant (reference §8).

``POST <accounts server>/oauth/v2/token/external/authtooauth`` with the client's credentials,
``grant_type=authtooauth``, ``authtoken`` and ``soid=ZohoSupport.<orgId>``, at the customer's
own data centre. The answer is an ordinary token answer in the old format (``expires_in_sec``
plus ``expires_in`` in milliseconds), checked field by field like a code exchange's.

Failures, all :class:`~portal.zoho.errors.ZohoError`:

- :class:`DeadAuthtoken` — the authtoken is gone (do not retry; invite the customer);
- :class:`WrongOrganization` — the org id is not the authtoken user's (fix the data);
- :class:`ZohoMisconfigured` — ``invalid_client`` and the like: the portal's fault;
- :class:`ZohoUnavailable` — outage, malformed answer or throttling (``code`` ``throttled``,
  ``retry_after`` in seconds): retry later.

The authtoken is a secret: it goes only into the request body, never into a log line,
an exception or a ``repr``.
"""

from authlib.integrations.base_client import OAuthError
from authlib.oauth2.base import OAuth2Error
from django.utils import timezone
from django.views.decorators.debug import sensitive_variables

from portal.zoho.datacentres import DataCentre
from portal.zoho.errors import DeadAuthtoken, WrongOrganization, ZohoError, safe_code
from portal.zoho.http import oauth_error, upstream
from portal.zoho.oauth import TokenSet, checked_answer, oauth_client

# Zoho documents no error codes for this endpoint; these are the ones the sandbox plays and
# the token endpoint's own for a dead grant (UNVERIFIED, see sandbox/README.md).
DEAD_AUTHTOKEN_ERRORS = {"invalid_authtoken", "invalid_code", "invalid_token", "invalid_grant"}
WRONG_ORG_ERRORS = {"invalid_soid", "invalid_org", "invalid_orgid"}
MAX_ORG_ID_DIGITS = 20


@sensitive_variables("authtoken", "token")
def convert_authtoken(*, dc: DataCentre, authtoken: str, org_id: str) -> TokenSet:
    """Trade ``authtoken`` for a grant on the Desk org ``org_id`` at ``dc`` (never retried
    here: the caller paces and retries on :class:`ZohoUnavailable`)."""
    if not org_id.isascii() or not org_id.isdigit() or len(org_id) > MAX_ORG_ID_DIGITS:
        raise WrongOrganization("org_id_not_numeric")
    if not authtoken or not authtoken.isascii() or not authtoken.isprintable():
        raise DeadAuthtoken("authtoken_malformed")
    sent_at = timezone.now()
    with upstream("authtooauth", dc.code), oauth_client(dc) as client:
        try:
            token = client.fetch_token(
                f"{dc.accounts_url}/oauth/v2/token/external/authtooauth",
                grant_type="authtooauth",
                authtoken=authtoken,
                soid=f"ZohoSupport.{org_id}",
            )
        except (OAuthError, OAuth2Error) as error:
            raise _classified(getattr(error, "error", "") or "oauth_error") from None
        answer = checked_answer(token, dc=dc, sent_at=sent_at)
        if answer.refresh_token is None:
            raise ValueError("no refresh_token")
        return answer


def _classified(error: str) -> ZohoError:
    code = safe_code(error)
    if code in DEAD_AUTHTOKEN_ERRORS:
        return DeadAuthtoken("dead_authtoken")
    if code in WRONG_ORG_ERRORS:
        return WrongOrganization("wrong_org")
    return oauth_error(code)
