"""CS: connect links for the app's customers, external ids and verified emails (section J)."""

import logging
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent, User
from portal.models import ConnectSession, ZohoGrant
from tests.api_calls import auth
from tests.cast import EU
from tests.connect_links import create_session, link_path, secret_of
from tests.leaks import assert_no_leak
from tests.portal_browser import PortalBrowser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allowlist(settings):
    settings.CONNECT_RETURN_URL_ALLOWLIST = ["https://app.example.com/desk/"]


@pytest.fixture
def link(client, service_key) -> dict:
    response = create_session(client, service_key)
    assert response.status_code == 201
    return {**response.json(), "service_key": service_key}


def _signed_in_id(browser: Client) -> str | None:
    return browser.session.get("_auth_user_id")


def _refusals() -> list[str]:
    events = AuditEvent.objects.filter(action="connect_session.refused")
    return [event.detail["reason"] for event in events.order_by("seq")]


def test_CS_01_a_used_link_signs_nobody_in_again_in_any_browser(link):
    first = Client()
    assert first.post(link_path(link)).status_code == 302
    first.logout()
    for browser in (first, Client()):
        assert browser.get(link_path(link)).status_code == 410
        replay = browser.post(link_path(link))
        assert replay.status_code == 410
        assert b"already used" in replay.content
        assert _signed_in_id(browser) is None
    assert _refusals() == ["used"] * 4
    assert AuditEvent.objects.filter(action="connect_session.signed_in").count() == 1


def test_CS_01_racing_uses_of_one_link_sign_in_once(link):
    """Two browsers posting at the same moment both pass the page's check; the conditional
    UPDATE lets exactly one of them through, and a late use after expiry none."""
    from accounts.audit import AuditContext
    from portal.grants.connect_sessions import LinkUnusable, use_link
    from tests.racing import race

    secret = secret_of(link)
    finish = race([lambda: use_link(secret=secret, context=AuditContext())] * 4)
    assert len(finish.results) == 1
    assert all(isinstance(error, LinkUnusable) for error in finish.errors)
    assert [getattr(error, "reason", "") for error in finish.errors] == ["used"] * 3
    other = create_session(Client(), link["service_key"], external_id="c2", email="d@d.example")
    ConnectSession.objects.filter(pk=other.json()["id"]).update(expires_at=timezone.now())
    with pytest.raises(LinkUnusable, match="expired"):
        use_link(secret=secret_of(other.json()), context=AuditContext())


def test_CS_01_an_expired_link_signs_nobody_in(link):
    ConnectSession.objects.update(expires_at=timezone.now() - timedelta(seconds=1))
    browser = Client()
    response = browser.post(link_path(link))
    assert response.status_code == 410 and b"expired" in response.content
    assert _signed_in_id(browser) is None
    assert ConnectSession.objects.get().consumed_at is None
    assert _refusals() == ["expired"]


def test_CS_01_opening_the_link_never_uses_it(link):
    """Mail scanners fetch links: a GET explains and leaves the link for the person."""
    scanner = Client()
    for _ in range(3):
        assert scanner.get(link_path(link)).status_code == 200
    assert _signed_in_id(scanner) is None
    session = ConnectSession.objects.get()
    assert session.opened_at is not None and session.consumed_at is None
    assert AuditEvent.objects.filter(action="connect_session.opened").count() == 1
    assert Client().post(link_path(link)).status_code == 302


def test_CS_01_an_unknown_link_is_gone(client):
    assert client.post("/connect/s/not-a-real-secret-at-all/").status_code == 410


def test_CS_01_the_secret_is_kept_as_a_digest_and_never_logged(link, caplog):
    import hashlib

    secret = secret_of(link)
    session = ConnectSession.objects.get()
    assert session.secret_digest == hashlib.sha256(secret.encode()).hexdigest()
    with caplog.at_level(logging.DEBUG):
        browser = Client()
        pages = [browser.get(link_path(link)), browser.post(link_path(link))]
        pages += [Client().get(link_path(link)), Client().post(link_path(link))]  # 410s, logged
    assert any("/connect/s/" in record.getMessage() for record in caplog.records)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert_no_leak(
        [secret],
        logged,
        repr(session),
        str(session),
        *[page.content.decode() for page in pages],
    )


def test_CS_02_signing_in_by_link_changes_the_session_key(link):
    browser = Client()
    browser.get(link_path(link))
    planted = browser.session
    planted["planted"] = True
    planted.save()
    before = planted.session_key
    browser.post(link_path(link))
    assert browser.session.session_key != before


def test_CS_02_someone_signed_in_is_asked_before_the_switch(link, alice, make_grant):
    grant = make_grant()
    browser = Client()
    browser.force_login(alice)
    page = browser.get(link_path(link))
    assert page.status_code == 200 and b"Sign out alice@example.com and continue" in page.content
    unasked = browser.post(link_path(link))
    assert unasked.status_code == 200
    assert _signed_in_id(browser) == str(alice.pk)
    assert ConnectSession.objects.get().consumed_at is None
    confirmed = browser.post(link_path(link), {"switch": "yes"})
    assert confirmed.status_code == 302
    assert _signed_in_id(browser) == str(User.objects.get(external_id="cust-42").pk)
    grant.refresh_from_db()
    assert grant.user_id == alice.pk and grant.status == "active"


@pytest.mark.parametrize(
    "return_url",
    [
        "https://evil.example/desk/",
        "https://app.example.com@evil.example/desk/",
        "https://app.example.com.evil.example/desk/",
        "https://app.example.com\\@evil.example/desk/",
        "https:\\\\evil.example/desk/",
        "//evil.example/desk/",
        "javascript:alert(1)//app.example.com/desk/",
        "http://app.example.com/desk/",
        "https://app.example.com:8443/desk/",
        "https://app.example.com/desktop",
        "https://app.example.com/desk/../admin",
        "https://app.example.com/desk/%2e%2e/admin",
        "https://app.example.com/desk/\r\nLocation: https://evil.example/",
        "https://app.example.com%2eevil.example/desk/",
    ],
)
def test_CS_03_a_return_url_off_the_allowlist_is_refused_at_creation(
    client, service_key, return_url
):
    response = create_session(client, service_key, return_url=return_url)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_return_url"
    assert not ConnectSession.objects.exists()


def test_CS_03_a_return_url_removed_from_the_allowlist_is_not_redirected_to(
    client, service_key, sandbox, settings
):
    """Allowed at creation, removed from the allowlist since: the customer stays in the
    portal instead of going to an address the operator no longer trusts."""
    created = create_session(client, service_key).json()
    settings.CONNECT_RETURN_URL_ALLOWLIST = []
    browser = Client()
    browser.post(link_path(created))
    back = PortalBrowser(browser, sandbox).connect(EU)
    grant = ZohoGrant.objects.get()
    assert back["Location"] == f"/connections/{grant.pk}/"
    assert ConnectSession.objects.get().outcome == "connected"


def test_CS_04_a_customer_cannot_set_an_external_id(client, service_key, alice):
    create_session(client, service_key, external_id="cust-99", email="zed@z.example")
    client.force_login(alice)
    client.post(reverse("accounts:profile"), {"has_alert_emails": "on", "external_id": "cust-99"})
    client.post(reverse("accounts:profile"), {"external_id": "mine"})
    client.get(reverse("portal:connections"), {"external_id": "mine"})
    client.logout()
    client.post(
        reverse("accounts:signup"),
        {
            "email": "mallory@example.com",
            "password1": "a-long-unusual-passphrase-7",
            "password2": "a-long-unusual-passphrase-7",
            "external_id": "cust-99",
            "email_verified_at": "2020-01-01T00:00:00Z",
        },
    )
    alice.refresh_from_db()
    mallory = User.objects.get(email="mallory@example.com")
    assert alice.external_id is None and mallory.external_id is None
    assert mallory.email_verified_at is None
    assert User.objects.get(external_id="cust-99").email == "zed@z.example"


def test_CS_04_email_lookup_ignores_unverified_users(client, service_key, make_user, make_grant):
    """Mallory signs up with the customer's address first: ?email= must not find her grant."""
    mallory = make_user("carol@customer.example")
    make_grant(user=mallory)
    listed = client.get("/api/v1/grants", {"email": "carol@customer.example"}, **auth(service_key))
    assert listed.status_code == 200 and listed.json()["grants"] == []
    User.objects.filter(pk=mallory.pk).update(email_verified_at=timezone.now())
    listed = client.get("/api/v1/grants", {"email": "carol@customer.example"}, **auth(service_key))
    assert [row["owner"]["id"] for row in listed.json()["grants"]] == [mallory.pk]


def test_CS_04_an_unverified_self_sign_up_cannot_capture_the_apps_customer(
    client, service_key, make_user
):
    """An email taken by an unverified sign-up is not bound to the app's external id."""
    mallory = make_user("carol@customer.example")
    response = create_session(client, service_key)
    assert response.status_code == 409 and response.json()["code"] == "email_conflict"
    mallory.refresh_from_db()
    assert mallory.external_id is None
    assert not ZohoGrant.objects.exists() and not ConnectSession.objects.exists()


def test_CS_04_a_service_key_never_gets_a_link_into_a_staff_account(client, service_key, make_user):
    """A staff member's verified email, or an external id staff gave a staff account: the
    link would sign in without a password, so no session is made."""
    admin = make_user("root@example.com", is_staff=True, email_verified_at=timezone.now())
    by_email = create_session(client, service_key, email="root@example.com")
    assert by_email.status_code == 409 and by_email.json()["code"] == "staff_user"
    User.objects.filter(pk=admin.pk).update(external_id="cust-42")
    by_id = create_session(client, service_key, email="other@customer.example")
    assert by_id.status_code == 409 and by_id.json()["code"] == "staff_user"
    User.objects.filter(pk=admin.pk).update(is_staff=False, is_active=False)
    inactive = create_session(client, service_key)
    assert inactive.status_code == 409 and inactive.json()["code"] == "user_inactive"
    assert not ConnectSession.objects.exists()
    assert User.objects.get(pk=admin.pk).email == "root@example.com"
