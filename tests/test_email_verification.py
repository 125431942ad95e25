"""Self sign-up confirms the email with a signed, expiring link; a banner asks until then."""

import re
from datetime import timedelta

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from accounts.email_verification import verification_link
from accounts.models import AuditEvent, User
from tests.mail_parts import delivered

pytestmark = pytest.mark.django_db
SIGNUP = reverse("accounts:signup")
BANNER = b"Please confirm your email address"


def _sign_up(client, email: str = "dora@example.com") -> User:
    client.post(
        SIGNUP,
        {
            "email": email,
            "password1": "a-long-unusual-pass-77",
            "password2": "a-long-unusual-pass-77",
        },
    )
    return User.objects.get(email=email)


def _link_path(message_body: str) -> str:
    found = re.search(r"http://127\.0\.0\.1:8000(/accounts/verify-email/\S+)", message_body)
    assert found, message_body
    return found.group(1)


def test_sign_up_mails_a_link_that_confirms_the_email(client):
    user = _sign_up(client)
    assert user.email_verified_at is None
    assert BANNER in client.get(reverse("portal:connections")).content
    [message] = delivered()
    assert message.to == ["dora@example.com"]
    response = client.get(_link_path(str(message.body)))
    assert response.status_code == 302
    assert User.objects.get(pk=user.pk).email_verified_at is not None
    assert BANNER not in client.get(reverse("portal:connections")).content
    assert AuditEvent.objects.filter(action="user.email_verified", actor_id=user.pk).count() == 1


def test_the_link_expires_after_the_configured_days(client, settings):
    settings.EMAIL_VERIFICATION_MAX_AGE_DAYS = 3
    user = _sign_up(client)
    path = _link_path(verification_link(user))
    with time_machine.travel(timezone.now() + timedelta(days=3, minutes=1)):
        assert client.get(path).status_code == 410
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_a_tampered_link_or_one_for_an_old_email_confirms_nothing(client):
    user = _sign_up(client)
    path = _link_path(verification_link(user))
    assert client.get(path[:-3] + "xx/").status_code == 410
    User.objects.filter(pk=user.pk).update(email="dora@elsewhere.example")
    assert client.get(path).status_code == 410
    user.refresh_from_db()
    assert user.email_verified_at is None


def test_resend_queues_a_fresh_link(client):
    _sign_up(client)
    delivered()
    response = client.post(reverse("accounts:verify_email_resend"))
    assert response.status_code == 302
    assert len(delivered()) == 2


def test_demo_users_count_as_verified(settings, monkeypatch):
    from django.core.management import call_command

    settings.DEBUG = True
    monkeypatch.setenv("DEMO_ADMIN_PASSWORD", "demo-admin-pass-1")
    monkeypatch.setenv("DEMO_USER_PASSWORD", "demo-user-pass-1")
    call_command("ensure_demo_users")
    assert not User.objects.filter(email_verified_at=None).exists()
    assert User.objects.count() == 2
