"""Connect sessions: the backend's link for its customer, from creation to the return_url."""

from datetime import datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client

from accounts.models import AuditEvent, User
from portal.models import ConnectSession, ZohoGrant
from tests.api_calls import auth
from tests.cast import EU
from tests.connect_links import RETURN_URL, create_session, link_path
from tests.portal_browser import PortalBrowser

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _allowlist(settings):
    settings.CONNECT_RETURN_URL_ALLOWLIST = ["https://app.example.com/desk/"]
    settings.PORTAL_BASE_URL = "https://portal.example.com"


def test_create_answers_201_with_a_link_and_binds_a_new_verified_user(client, service_key):
    response = create_session(client, service_key)
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["url"].startswith("https://portal.example.com/connect/s/")
    session = ConnectSession.objects.get(pk=body["id"])
    assert session.expires_at == datetime.fromisoformat(body["expires_at"])
    assert timedelta(minutes=29) < session.expires_at - session.created_at <= timedelta(minutes=30)
    user = User.objects.get(external_id="cust-42")
    assert (user.email, user.first_name) == ("carol@customer.example", "Carol")
    assert user.email_verified_at is not None and not user.has_usable_password()
    assert session.user == user and session.return_url == RETURN_URL
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"connect_session.created", "user.created"} <= actions


def test_a_known_external_id_reuses_its_user_and_takes_a_new_email(client, service_key):
    create_session(client, service_key)
    response = create_session(client, service_key, email="carol@new.example")
    assert response.status_code == 201
    assert User.objects.filter(external_id="cust-42").get().email == "carol@new.example"
    assert ConnectSession.objects.filter(user__external_id="cust-42").count() == 2


def test_an_email_held_by_another_user_is_a_409(client, service_key, bob):
    create_session(client, service_key)
    taken = create_session(client, service_key, email=bob.email)
    assert taken.status_code == 409 and taken.json()["code"] == "email_conflict"
    other = create_session(client, service_key, external_id="cust-43")
    assert other.status_code == 409 and other.json()["code"] == "email_conflict"
    assert User.objects.get(pk=bob.pk).external_id is None


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({"external_id": "x" * 201}, "invalid_external_id"),
        ({"external_id": "   "}, "invalid_external_id"),
        ({"external_id": "cust\x00"}, "invalid_external_id"),
        ({"external_id": "cust\u008542"}, "invalid_external_id"),
        ({"external_id": "cust\ud80042"}, "invalid_external_id"),
        ({"external_id": 42}, "invalid_external_id"),
        ({"email": "not-an-email"}, "invalid_email"),
        ({"display_name": "x" * 151}, "bad_request"),
        ({"return_url": "https://evil.example/desk/"}, "invalid_return_url"),
    ],
)
def test_bad_input_is_a_400_problem_and_makes_nothing(client, service_key, body, code):
    response = create_session(client, service_key, **body)
    assert response.status_code == 400
    assert response["Content-Type"] == "application/problem+json"
    assert response.json()["code"] == code
    assert not ConnectSession.objects.exists() and not User.objects.exists()


def test_create_needs_a_service_key(client):
    response = create_session(client, "dck_nope_nope")
    assert response.status_code == 401 and not ConnectSession.objects.exists()


def test_the_link_signs_in_connects_and_returns_to_the_app(client, service_key, sandbox):
    created = create_session(client, service_key).json()
    browser = Client()
    page = browser.get(link_path(created))
    assert page.status_code == 200 and b"Continue" in page.content
    assert "_auth_user_id" not in browser.session  # a GET signs nobody in
    signed_in = browser.post(link_path(created))
    assert signed_in.status_code == 302 and signed_in["Location"] == "/connections/"
    user = User.objects.get(external_id="cust-42")
    assert browser.session["_auth_user_id"] == str(user.pk)
    back = PortalBrowser(browser, sandbox).connect(EU)
    assert back.status_code == 303
    target = urlsplit(back["Location"])
    assert back["Location"].startswith(RETURN_URL + "?")
    grant = ZohoGrant.objects.get(user=user)
    assert parse_qs(target.query) == {
        "outcome": ["connected"],
        "grant_id": [str(grant.pk)],
        "session_id": [created["id"]],
    }
    session = ConnectSession.objects.get(pk=created["id"])
    assert (session.outcome, session.grant_id) == ("connected", grant.pk)
    listed = client.get("/api/v1/grants?external_id=cust-42", **auth(service_key)).json()
    assert [row["id"] for row in listed["grants"]] == [str(grant.pk)]
    assert listed["grants"][0]["external_id"] == "cust-42"


def test_declining_at_zoho_returns_cancelled(client, service_key, sandbox):
    created = create_session(client, service_key).json()
    browser = Client()
    browser.post(link_path(created))
    back = PortalBrowser(browser, sandbox).connect(EU, approve=False)
    query = parse_qs(urlsplit(back["Location"]).query, keep_blank_values=True)
    assert query["outcome"] == ["cancelled"] and query["grant_id"] == [""]
    assert ConnectSession.objects.get(pk=created["id"]).outcome == "cancelled"


def test_without_return_url_the_customer_lands_on_the_grant_page(client, service_key, sandbox):
    created = create_session(client, service_key, return_url=None).json()
    browser = Client()
    browser.post(link_path(created))
    back = PortalBrowser(browser, sandbox).connect(EU)
    grant = ZohoGrant.objects.get(user__external_id="cust-42")
    assert back["Location"] == f"/connections/{grant.pk}/"
    assert ConnectSession.objects.get(pk=created["id"]).outcome == "connected"


def test_a_customer_bound_by_a_link_can_set_a_password_by_reset(client, service_key):
    from accounts.password_reset import PasswordResetForm

    create_session(client, service_key)
    form = PasswordResetForm({"email": "carol@customer.example"})
    assert form.is_valid()
    assert [user.external_id for user in form.get_users("carol@customer.example")] == ["cust-42"]


def test_a_failed_connection_returns_failed(client, service_key, sandbox):
    """The callback names an accounts server outside the pinned table: nothing is stored and
    the app hears ``failed``; the link's session is finished once, so a retry in the portal
    is an ordinary connection."""
    created = create_session(client, service_key).json()
    browser = Client()
    browser.post(link_path(created))
    person = PortalBrowser(browser, sandbox)
    callback_url = sandbox.consent(person.start(), zuid=EU)
    parts = urlsplit(callback_url)
    query = {name: values[0] for name, values in parse_qs(parts.query).items()}
    query["accounts-server"] = "https://accounts.evil.example"
    back = browser.get(parts.path, query)
    assert back.status_code == 303
    answer = parse_qs(urlsplit(back["Location"]).query, keep_blank_values=True)
    assert (answer["outcome"], answer["grant_id"]) == (["failed"], [""])
    assert not ZohoGrant.objects.exists()
    session = ConnectSession.objects.get(pk=created["id"])
    assert (session.outcome, session.grant_id) == ("failed", None)
    assert person.connect(EU)["Location"].startswith("/connections/")
    assert ConnectSession.objects.get(pk=created["id"]).outcome == "failed"


def test_the_customer_may_cancel_in_the_portal_and_go_back(client, service_key):
    created = create_session(client, service_key).json()
    browser = Client()
    browser.post(link_path(created))
    page = browser.get("/connections/")
    assert b"Cancel and go back to the app" in page.content
    back = browser.post("/connect/cancel/")
    answer = parse_qs(urlsplit(back["Location"]).query, keep_blank_values=True)
    assert back["Location"].startswith(RETURN_URL + "?")
    assert (answer["outcome"], answer["session_id"]) == (["cancelled"], [created["id"]])
    assert ConnectSession.objects.get(pk=created["id"]).outcome == "cancelled"
    assert b"Cancel and go back" not in browser.get("/connections/").content
    assert browser.post("/connect/cancel/")["Location"] == "/connections/"  # nothing left
