"""The app's own customer ids on portal users (``User.external_id``).

One rule for what an id may be (:func:`clean_external_id`), the one way a customer is bound to
an id (:func:`bind_customer`, for the API's connect sessions) and the staff path that sets or
clears one (:func:`set_external_id`). Both writers are audited; no page a customer sees edits
the field (it is not ``editable``, so no model form carries it).
"""

import unicodedata

from django.core.exceptions import ValidationError
from django.core.validators import EmailValidator
from django.db import transaction
from django.utils import timezone

from accounts.audit import AuditContext, record_event
from accounts.models import AuditEvent, User

MAX_LENGTH = 200
MAX_DISPLAY_NAME = 150  # User.first_name
Action = AuditEvent.Action


class ExternalIdError(ValueError):
    """An external id (or the email that comes with it) cannot be used; ``code`` is stable."""

    def __init__(self, code: str, message: str) -> None:
        self.code = code
        self.message = message
        super().__init__(message)


def clean_external_id(value: object) -> str:
    """``value`` when it is a usable external id, else :class:`ExternalIdError`."""
    if not isinstance(value, str) or not value.strip():
        raise ExternalIdError("invalid_external_id", "external_id must be a non-blank string.")
    if len(value) > MAX_LENGTH:
        raise ExternalIdError(
            "invalid_external_id", f"external_id holds at most {MAX_LENGTH} characters."
        )
    if has_control_characters(value):
        raise ExternalIdError(
            "invalid_external_id", "external_id must not hold control characters."
        )
    return value


def has_control_characters(value: str) -> bool:
    """Cc (C0 and C1 controls, NUL included) or a lone surrogate, which no database text holds."""
    return any(unicodedata.category(char) in ("Cc", "Cs") for char in value)


def clean_email(value: object) -> str:
    if not isinstance(value, str) or len(value) > 254:
        raise ExternalIdError("invalid_email", "email must be an email address.")
    try:
        EmailValidator()(value)
    except ValidationError:
        raise ExternalIdError("invalid_email", "email must be an email address.") from None
    return User.objects.normalize_email(value)


def bind_customer(
    *,
    external_id: str,
    email: str,
    display_name: str,
    context: AuditContext,
    via: str = "connect_session",
) -> User:
    """The portal user bound to ``external_id``, created (or bound) when there is none yet.

    Call inside ``transaction.atomic()``. The app vouches for the email, so it counts as
    verified (``via`` names the path in the audit: ``connect_session``, ``import``). The
    external id wins: a known id that comes with a new email takes it when no
    other user has it. An email that already belongs to another user is bound only when that
    user has no external id and has verified the email themselves (a self sign-up that took
    the address first must not receive the app's customer); otherwise ``email_conflict``.
    """
    now = timezone.now()
    user = User.objects.select_for_update().filter(external_id=external_id).first()
    holder = User.objects.select_for_update().filter(email__iexact=email).first()
    if user is None and holder is not None:
        if holder.external_id is not None or holder.email_verified_at is None:
            raise ExternalIdError("email_conflict", "Another portal user has this email.")
        _refuse_unbindable(holder)
        user = holder
        _set(user, external_id=external_id, context=context)
    if user is None:
        user = User.objects.create_user(
            email, None, first_name=display_name, external_id=external_id, email_verified_at=now
        )
        record_event(
            action=Action.USER_CREATED,
            context=context,
            detail={"user_id": user.pk, "external_id": external_id, "via": via},
        )
        return user
    if holder is not None and holder.pk != user.pk:
        raise ExternalIdError("email_conflict", "Another portal user has this email.")
    _refuse_unbindable(user)
    if user.email.lower() != email.lower():
        record_event(action=Action.EMAIL_CHANGED, context=context, detail={"user_id": user.pk})
        user.email = email
    user.email_verified_at = user.email_verified_at or now
    user.first_name = display_name or user.first_name
    user.save(update_fields=["email", "email_verified_at", "first_name"])
    return user


def _refuse_unbindable(user: User) -> None:
    """A link signs its user in without a password: never a staff member (a service key must
    not become a staff session), never someone staff deactivated."""
    if user.is_staff or user.is_superuser:
        raise ExternalIdError("staff_user", "A staff account cannot be signed in by a link.")
    if not user.is_active:
        raise ExternalIdError("user_inactive", "This customer's account is deactivated.")


def set_external_id(*, user: User, external_id: str | None, context: AuditContext) -> bool:
    """Set (or with None, clear) the user's external id as staff; audited. False when
    nothing changed; :class:`ExternalIdError` when another user has the id."""
    if external_id is not None:
        external_id = clean_external_id(external_id)
    with transaction.atomic():
        locked = User.objects.select_for_update().get(pk=user.pk)
        if locked.external_id == external_id:
            return False
        taken = User.objects.filter(external_id=external_id).exclude(pk=user.pk)
        if external_id is not None and taken.exists():
            raise ExternalIdError("external_id_conflict", "Another user has this external id.")
        _set(locked, external_id=external_id, context=context)
    user.external_id = external_id
    return True


def _set(user: User, *, external_id: str | None, context: AuditContext) -> None:
    previous = user.external_id
    User.objects.filter(pk=user.pk).update(external_id=external_id)
    user.external_id = external_id
    record_event(
        action=Action.EXTERNAL_ID_CHANGED,
        context=context,
        detail={"user_id": user.pk, "previous": previous, "external_id": external_id},
    )
