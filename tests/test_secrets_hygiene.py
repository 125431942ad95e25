"""Second walls against leaks: the log filter, error reports, admin pages, key rotation."""

import logging

import pytest
from django.core.management import call_command
from django.test import RequestFactory

from portal import crypto
from portal.grants.key_rotation import rotate_grant_tokens
from portal.log_filters import PortalExceptionReporterFilter, RedactSecretsFilter, redact

TOKEN = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"


@pytest.mark.parametrize(
    "text",
    [
        f"refreshing with {TOKEN}",
        "GET /connections/callback/?code=abc123&state=xyz789&location=eu HTTP/1.1",
        "Authorization: Zoho-oauthtoken abc.def",
        "client_secret=s3cr3t&grant_type=refresh_token",
        "Bearer abcdef123456",
    ],
)
def test_redact_removes_secret_shaped_values(text):
    cleaned = redact(text)
    for secret in (TOKEN, "abc123", "xyz789", "abc.def", "s3cr3t", "abcdef123456"):
        assert secret not in cleaned
    assert "[redacted]" in cleaned


def test_redact_keeps_ordinary_text():
    text = "zoho refresh dc=eu outcome=ok ms=12"
    assert redact(text) == text


def test_log_filter_scrubs_formatted_records(caplog):
    logger = logging.getLogger("test.leaks")
    logger.addFilter(RedactSecretsFilter())
    try:
        with caplog.at_level(logging.INFO, logger="test.leaks"):
            logger.info("token was %s", TOKEN)
    finally:
        logger.filters.clear()
    assert TOKEN not in caplog.text
    assert "[redacted]" in caplog.text


def test_error_reports_scrub_the_query_string():
    request = RequestFactory().get("/connections/callback/?code=abc123&state=xyz789")
    meta = PortalExceptionReporterFilter().get_safe_request_meta(request)
    assert "abc123" not in meta["QUERY_STRING"] and "xyz789" not in meta["QUERY_STRING"]


def test_error_reports_hide_keys_and_client_secret(settings):
    safe = PortalExceptionReporterFilter().get_safe_settings()
    assert safe["TOKEN_ENCRYPTION_KEYS"] != settings.TOKEN_ENCRYPTION_KEYS
    assert safe["ZOHO_CLIENT_SECRET"] != settings.ZOHO_CLIENT_SECRET


@pytest.mark.django_db
def test_admin_grant_pages_show_no_token_material(client, make_grant, make_user):
    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    grant = make_grant()
    client.force_login(admin)
    for url in (
        "/admin/portal/zohogrant/",
        f"/admin/portal/zohogrant/{grant.pk}/change/",
    ):
        page = client.get(url)
        assert page.status_code == 200
        body = page.content.decode()
        assert "encrypted" not in body.lower()
        assert make_grant.refresh_token not in body


@pytest.mark.django_db
def test_admin_cannot_change_or_delete_audit_events(client, make_user):
    from accounts.audit import record_event
    from accounts.models import AuditEvent

    admin = make_user("root@example.com", is_staff=True, is_superuser=True)
    event = record_event(action=AuditEvent.Action.CONNECTED, actor=admin)
    client.force_login(admin)
    assert client.get(f"/admin/accounts/auditevent/{event.pk}/change/").status_code == 200
    response = client.post(f"/admin/accounts/auditevent/{event.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert AuditEvent.objects.filter(pk=event.pk).exists()


@pytest.mark.django_db
def test_rotation_rewrites_every_grant_and_is_repeatable(settings, make_grant):
    grants = [make_grant(zoho_user_id=str(n)) for n in range(3)]
    new_key = crypto.generate_key()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    first = rotate_grant_tokens()
    assert (first.rotated, first.current, first.unreadable) == (3, 0, 0)
    again = rotate_grant_tokens()
    assert (again.rotated, again.current) == (0, 3)
    settings.TOKEN_ENCRYPTION_KEYS = [new_key]
    for grant in grants:
        grant.refresh_from_db()
        value = crypto.decrypt_token(grant.refresh_token_encrypted, context=str(grant.pk))
        assert value == make_grant.refresh_token


@pytest.mark.django_db
def test_rotate_command_fails_on_rows_no_key_can_read(settings, make_grant, capsys):
    make_grant()
    settings.TOKEN_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(Exception, match="could not be decrypted"):
        call_command("rotate_token_keys")
    assert "unreadable: 1" in capsys.readouterr().out
