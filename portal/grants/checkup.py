"""Proving a grant works: a fresh token, then Desk's organizations and the agent behind it.

Used by the dashboard's "Test connection" and by the background health check.
"""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from django.db import transaction
from django.utils import timezone

from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal import zoho
from portal.grants import tokens
from portal.grants.wording import error_words, refusal_message
from portal.models import ZohoGrant

# Desk codes that refuse one organization, not the grant: the agent left that organization,
# or may not use the API there. Reported by a check, never a reason to condemn the grant.
ORG_REFUSALS = {"oauth_org_mismatch", "unauthorized"}
# Organizations asked for the agent behind the token in one check (each is one Desk call).
MAX_ORGS_CHECKED = 3
# The most Zoho calls one check makes: two attempts, each a possible refresh, the
# organization list and one agent per organization (what the sweep's lease is sized for).
MAX_ZOHO_CALLS = 2 * (2 + MAX_ORGS_CHECKED)


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    organization: str = ""
    agent: str = ""
    refused_organizations: tuple[str, ...] = ()
    code: str = ""  # the token service's refusal code, when it refused


def check_connection(*, grant_id: UUID, actor: User | None = None) -> CheckResult:
    """Get a token through the token service and call Desk with it; audit the outcome."""
    result = probe_connection(grant_id=grant_id)
    _record(grant_id, actor, result)
    return result


def probe_connection(*, grant_id: UUID, refresh_first: bool = False) -> CheckResult:
    """The check without its audit event (the health check records its own).

    ``refresh_first`` refreshes the token even if the stored one is valid (the probe of a data
    centre that rejected the portal's client must reach the token endpoint).
    """
    try:
        return _check(grant_id, refresh_first=refresh_first)
    except tokens.GrantError as error:
        return CheckResult(ok=False, message=refusal_message(error.code), code=error.code)


def _check(grant_id: UUID, *, refresh_first: bool = False) -> CheckResult:
    """Condemn the grant only when Zoho refuses it after a fresh refresh.

    A refusal with the stored access token may just mean Zoho dropped that token early, so
    the check refreshes once and tries again; a refusal by one organization is reported.
    """
    grant = ZohoGrant.objects.only("pk", "data_centre").get(pk=grant_id)
    dc = zoho.data_centre(grant.data_centre)
    for attempt in (1, 2):
        rejected = attempt == 2 or refresh_first
        issued = tokens.get_access_token(grant_id=grant_id, token_rejected=rejected)
        try:
            orgs = zoho.organizations(dc=dc, access_token=issued.access_token)
            agents = _agents(dc, issued.access_token, orgs[:MAX_ORGS_CHECKED])
        except zoho.ZohoRejected as error:
            if attempt == 1:
                continue
            tokens.mark_rejected(grant_id=grant_id, error=error)
            return CheckResult(ok=False, message=error_words(error.code))
        except zoho.ZohoError as error:
            return CheckResult(ok=False, message=error_words(error.code))
        _store_organizations(grant_id, orgs)
        return _result(agents)
    raise AssertionError("unreachable: the second attempt returns")


def _agents(
    dc: zoho.DataCentre, access_token: str, orgs: list[zoho.DeskOrganization]
) -> list[tuple[zoho.DeskOrganization, zoho.DeskAgent | None, str]]:
    """Each organization with its agent, or ``None`` and the code it was refused with."""
    answers: list[tuple[zoho.DeskOrganization, zoho.DeskAgent | None, str]] = []
    for org in orgs:
        try:
            answers.append((org, zoho.myinfo(dc=dc, access_token=access_token, org_id=org.id), ""))
        except zoho.ZohoRejected as error:
            if error.code not in ORG_REFUSALS:
                raise
            answers.append((org, None, error.code))
    return answers


def _result(
    agents: list[tuple[zoho.DeskOrganization, zoho.DeskAgent | None, str]],
) -> CheckResult:
    answered = [(org, agent) for org, agent, _ in agents if agent is not None]
    refused = [(org, code) for org, agent, code in agents if agent is None]
    org_name = answered[0][0].name if answered else ""
    agent_name = answered[0][1].name if answered else ""
    message = (
        f"Zoho Desk answered: organization {org_name or 'none'}, agent {agent_name or 'unknown'}."
    )
    for org, code in refused:
        message += f" Organization {org.name or org.id}: {error_words(code)}"
    return CheckResult(
        True, message, org_name, agent_name, tuple(org.name or org.id for org, _ in refused)
    )


def _store_organizations(grant_id: UUID, orgs: list[zoho.DeskOrganization]) -> None:
    now = timezone.now()
    fields: dict[str, datetime | list[dict[str, str]]] = {
        "last_checked_at": now,
        "last_used_at": now,
    }
    if orgs:
        fields["organizations"] = [{"id": org.id, "name": org.name} for org in orgs]
    ZohoGrant.objects.filter(pk=grant_id).update(**fields)


def _record(grant_id: UUID, actor: User | None, result: CheckResult) -> None:
    grant = ZohoGrant.objects.only(
        "pk", "user_id", "zoho_email", "zoho_user_id", "data_centre"
    ).get(pk=grant_id)
    with transaction.atomic():
        record_event(
            action=AuditEvent.Action.TESTED,
            actor=actor,
            grant=grant,
            outcome=AuditEvent.Outcome.SUCCESS if result.ok else AuditEvent.Outcome.FAILURE,
            detail={"message": result.message[:200]},
        )
