"""Sign-up, log-in, log-out and password reset for portal users."""

import re

import pytest
from django.urls import reverse

from accounts.models import User
from tests.mail_parts import delivered

pytestmark = pytest.mark.django_db

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("accounts:login")
LOGOUT = reverse("accounts:logout")
CONNECTIONS = reverse("portal:connections")


def signup(client, email="carol@example.com", p1="a-long-unusual-passphrase-7", p2=None):
    return client.post(SIGNUP, {"email": email, "password1": p1, "password2": p2 or p1})


def test_signup_creates_user_logs_in_and_lands_on_connections(client):
    response = signup(client)
    assert response.status_code == 302
    assert response["Location"] == CONNECTIONS
    user = User.objects.get(email="carol@example.com")
    assert not user.is_staff
    assert client.get(CONNECTIONS).status_code == 200


def test_signup_refuses_existing_email_in_another_case(client, alice):
    response = signup(client, email="ALICE@Example.COM")
    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert User.objects.filter(email__iexact="alice@example.com").count() == 1


def test_database_refuses_duplicate_email_in_another_case(alice):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        User.objects.create_user("Alice@EXAMPLE.com", "x-long-enough-password-1")


@pytest.mark.parametrize(
    ("email", "p1", "p2", "message"),
    [
        ("carol@example.com", "password", None, "too common"),
        ("carol@example.com", "12345678901", None, "entirely numeric"),
        ("carol@example.com", "short", None, "too short"),
        ("carol@example.com", "a-long-unusual-passphrase-7", "another-passphrase-8", "didn"),
        ("not-an-email", "a-long-unusual-passphrase-7", None, "valid email"),
        ("x" * 250 + "@example.com", "a-long-unusual-passphrase-7", None, "at most 254"),
    ],
)
def test_signup_rejects_bad_input_and_creates_nothing(client, email, p1, p2, message):
    response = signup(client, email=email, p1=p1, p2=p2)
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not User.objects.exists()


def test_login_with_email_in_any_case(client, alice, password):
    response = client.post(LOGIN, {"username": "ALICE@example.com", "password": password})
    assert response.status_code == 302
    assert response["Location"] == CONNECTIONS


def test_login_with_wrong_password_says_nothing_specific(client, alice):
    response = client.post(LOGIN, {"username": "alice@example.com", "password": "wrong"})
    assert response.status_code == 200
    assert "correct email" in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_connections_needs_login(client):
    response = client.get(CONNECTIONS)
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN}?next={CONNECTIONS}"


def test_public_pages_need_no_login(client):
    for url in ("/", SIGNUP, LOGIN, reverse("accounts:password_reset"), "/healthz"):
        assert client.get(url).status_code == 200, url


def test_password_reset_email_link_sets_a_new_password(client, alice):
    response = client.post(reverse("accounts:password_reset"), {"email": "Alice@Example.com"})
    assert response.status_code == 302
    [message] = delivered()
    link = re.search(r"http://127\.0\.0\.1:8000(/accounts/password/reset/\S+)", str(message.body))
    assert link
    form_page = client.get(link.group(1), follow=True)
    assert form_page.status_code == 200
    set_url = form_page.redirect_chain[-1][0]
    response = client.post(
        set_url,
        {"new_password1": "brand-new-passphrase-9", "new_password2": "brand-new-passphrase-9"},
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("brand-new-passphrase-9")


def test_password_reset_for_unknown_email_looks_the_same(client, alice):
    known = client.post(reverse("accounts:password_reset"), {"email": "alice@example.com"})
    unknown = client.post(reverse("accounts:password_reset"), {"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 302
    assert known["Location"] == unknown["Location"]
    assert len(delivered()) == 1


def test_password_change(client, alice, password):
    client.force_login(alice)
    response = client.post(
        reverse("accounts:password_change"),
        {
            "old_password": password,
            "new_password1": "another-long-passphrase-3",
            "new_password2": "another-long-passphrase-3",
        },
    )
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.check_password("another-long-passphrase-3")


def test_createsuperuser_works_with_email(db):
    from django.core.management import call_command

    call_command("createsuperuser", email="root@example.com", interactive=False, verbosity=0)
    user = User.objects.get(email="root@example.com")
    assert user.is_superuser and user.is_staff
