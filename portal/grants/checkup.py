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


@dataclass(frozen=True)
class CheckResult:
    ok: bool
    message: str
    organization: str = ""
    agent: str = ""
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
    grant = ZohoGrant.objects.only("pk", "data_centre").get(pk=grant_id)
    dc = zoho.data_centre(grant.data_centre)
    for attempt in (1, 2):
        rejected = attempt == 2 or refresh_first
        issued = tokens.get_access_token(grant_id=grant_id, token_rejected=rejected)
        try:
            orgs = zoho.organizations(dc=dc, access_token=issued.access_token)
            agent = (
                zoho.myinfo(dc=dc, access_token=issued.access_token, org_id=orgs[0].id)
                if orgs
                else None
            )
        except zoho.ZohoRejected as error:
            if attempt == 1 and error.code == "invalid_oauth":
                continue  # Zoho dropped this access token early: refresh once and retry
            tokens.mark_rejected(grant_id=grant_id, error=error)
            return CheckResult(ok=False, message=error_words(error.code))
        except zoho.ZohoError as error:
            return CheckResult(ok=False, message=error_words(error.code))
        _store_organizations(grant_id, orgs)
        org_name = orgs[0].name if orgs else ""
        agent_name = agent.name if agent else ""
        message = f"Zoho Desk answered: organization {org_name or 'none'}"
        return CheckResult(
            True, f"{message}, agent {agent_name or 'unknown'}.", org_name, agent_name
        )
    raise AssertionError("unreachable: the second attempt returns")


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
