"""One-click unsubscribe from a campaign's invitations and reminders (RFC 8058).

Every invitation carries a link signed for its customer (Django's ``Signer``, keyed by
``SECRET_KEY`` and this module's salt): the link both names the customer and proves it came
from the portal, so the page works without signing in and its POST needs no CSRF token (the
signature is the authorization, and the only thing it can do is stop mail). The same URL is
the mail's ``List-Unsubscribe`` header, with ``List-Unsubscribe-Post: List-Unsubscribe=One-Click``
so mail clients can POST it directly. Opting out is recorded once and audited.
"""

from uuid import UUID

from django.conf import settings
from django.core import signing
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent
from portal.models import MigrationCustomer

SALT = "portal.migration.unsubscribe"


def _signer() -> signing.Signer:
    return signing.Signer(salt=SALT)


def unsubscribe_url(customer_id: UUID) -> str:
    token = _signer().sign(str(customer_id))
    base = str(settings.PORTAL_BASE_URL).rstrip("/")
    return base + reverse("portal:migration_unsubscribe", args=[token])


def unsubscribe_headers(customer_id: UUID) -> dict[str, str]:
    """The mail's RFC 2369 / RFC 8058 header fields for one-click unsubscribe."""
    return {
        "List-Unsubscribe": f"<{unsubscribe_url(customer_id)}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }


def customer_for(token: str) -> MigrationCustomer | None:
    """The customer a link was signed for; None for a forged, altered or unknown link."""
    try:
        customer_id = UUID(_signer().unsign(token[:200]))
    except (signing.BadSignature, ValueError):
        return None
    return MigrationCustomer.objects.select_related("campaign").filter(pk=customer_id).first()


def opt_out(customer: MigrationCustomer, *, context: AuditContext) -> bool:
    """Stop the customer's invitations; True the first time (audited then only)."""
    now = timezone.now()
    with transaction.atomic():
        done = MigrationCustomer.objects.filter(pk=customer.pk, opted_out_at=None).update(
            opted_out_at=now, updated_at=now
        )
        if done:
            record_event(
                action=AuditEvent.Action.MIGRATION_OPTED_OUT,
                context=context,
                detail={
                    "campaign": customer.campaign.name,
                    "line": customer.line,
                    "user_id": customer.user_id,
                },
            )
    return bool(done)
