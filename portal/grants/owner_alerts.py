"""Telling people about their grants by email: Needs reconnect, revocations given up, and
early warnings raised and cleared again (``portal.grants.early_warning``).

Every message is queued through ``accounts.outbox`` in the transaction of the decision it
announces and delivered by a job after commit: no lock is held while a mail server answers.

An owner hears once per Needs-reconnect episode: ``alerted_at`` is compared with the time
the status last changed, so a grant is announced again only after it recovered and failed
anew. Owners who turned alerts off in their profile get none (the decision is still audited).
"""

import logging
from uuid import UUID

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q, QuerySet
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts import outbox
from accounts.audit import record_event
from accounts.models import AuditEvent, User
from portal.grants.wording import rejection_words, warning_label, warning_words
from portal.models import ZohoGrant

logger = logging.getLogger(__name__)
Status = ZohoGrant.Status


def unannounced() -> QuerySet[ZohoGrant]:
    """Grants in Needs reconnect whose owner has not been told about this episode."""
    return ZohoGrant.objects.filter(status=Status.NEEDS_RECONNECT).filter(
        Q(alerted_at__isnull=True) | Q(alerted_at__lt=F("status_changed_at"))
    )


def send_reconnect_alerts() -> int:
    """Alert the owners of every unannounced Needs-reconnect grant; returns emails queued."""
    ids = list(unannounced().values_list("pk", flat=True))
    return sum(alert_owner(grant_id=grant_id) for grant_id in ids)


def alert_owner(*, grant_id: UUID) -> bool:
    """Email the owner that the grant needs reconnecting, once per episode; True if queued.

    ``alerted_at``, the audit event and the mail job commit together or not at all.
    """
    with transaction.atomic():
        grant = (
            ZohoGrant.objects.select_for_update(of=("self",))
            .select_related("user")
            .get(pk=grant_id)
        )
        if not unannounced().filter(pk=grant.pk).exists():
            return False
        grant.alerted_at = timezone.now()
        grant.save(update_fields=["alerted_at", "updated_at"])
        emailed = grant.user.has_alert_emails and grant.user.is_active
        if emailed:
            _send(grant, [grant.user.email], "needs_reconnect")
        record_event(
            action=AuditEvent.Action.OWNER_ALERTED, grant=grant, detail={"emailed": emailed}
        )
    return emailed


def tell_revocation_abandoned(*, grant_id: UUID) -> None:
    """Tell the owner and staff that a revocation was finished without Zoho's confirmation."""
    grant = ZohoGrant.objects.select_related("user").get(pk=grant_id)
    staff = User.objects.filter(is_staff=True, is_active=True).values_list("email", flat=True)
    recipients = sorted({grant.user.email, *staff})
    _send(grant, recipients, "revocation_abandoned")


def _send(
    grant: ZohoGrant, recipients: list[str], template: str, extra: dict[str, str] | None = None
) -> None:
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    path = reverse("portal:grant_detail", kwargs={"grant_id": grant.pk})
    context = {
        "grant_title": _title(grant),
        "zoho_email": grant.zoho_email or grant.zoho_user_id,
        "data_centre": grant.data_centre.upper(),
        "reason": rejection_words(grant.last_error),
        "grant_url": f"{base}{path}",
        "profile_url": f"{base}{reverse('accounts:profile')}",
        **(extra or {}),
    }
    subject = render_to_string(f"portal/email/{template}_subject.txt", context).strip()
    text = render_to_string(f"portal/email/{template}.txt", context)
    html = render_to_string(f"portal/email/{template}.html", context)
    outbox.send_later(kind=template, to=recipients, subject=subject, text=text, html=html)
    logger.info("queued %s email about grant %s", template, grant.pk)


def _title(grant: ZohoGrant) -> str:
    names = [org.get("name") or str(org.get("id", "")) for org in grant.organizations]
    return ", ".join(name for name in names if name) or grant.zoho_email or grant.zoho_user_id


def tell_warning(*, grant: ZohoGrant, facts: str) -> None:
    """Tell the owner that a grant which still works shows an early warning.

    Called by ``portal.grants.early_warning`` once per raised warning, inside the grant's lock:
    the mail job commits with the raise.
    """
    extra = {
        "warning_label": warning_label(grant.warning),
        "warning_text": warning_words(grant.warning),
        "facts": facts,
    }
    _send(grant, [grant.user.email], "grant_warning", extra)


def tell_recovered(*, grant: ZohoGrant, warning: str) -> None:
    """Tell the owner that a warning they were emailed about has gone and the grant works.

    Called by ``portal.grants.early_warning`` inside the grant's lock, when the warning clears
    on an Active grant: the mail job commits with the clearing.
    """
    _send(grant, [grant.user.email], "grant_recovered", {"warning_label": warning_label(warning)})


def tell_owners_revoked_by_staff(*, grant_ids: list[UUID], reason: str) -> int:
    """Email each owner once about their grants an administrator revoked; returns emails queued.

    The mail jobs commit with the caller's transaction (at once, outside one).
    """
    grants = ZohoGrant.objects.filter(pk__in=grant_ids).select_related("user").order_by("pk")
    by_owner: dict[int, list[ZohoGrant]] = {}
    for grant in grants:
        by_owner.setdefault(grant.user_id, []).append(grant)
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    sent = 0
    for owned in by_owner.values():
        connections = [
            {
                "title": _title(grant),
                "zoho_email": grant.zoho_email or grant.zoho_user_id,
                "data_centre": grant.data_centre.upper(),
            }
            for grant in owned
        ]
        context = {
            "connections": connections,
            "reason": reason,
            "connections_url": f"{base}{reverse('portal:connections')}",
        }
        outbox.send_later(
            kind="revoked_by_staff",
            to=[owned[0].user.email],
            subject=render_to_string("portal/email/revoked_by_staff_subject.txt", context),
            text=render_to_string("portal/email/revoked_by_staff.txt", context),
            html=render_to_string("portal/email/revoked_by_staff.html", context),
        )
        sent += 1
        logger.info("queued revoked_by_staff email to user %s", owned[0].user_id)
    return sent
