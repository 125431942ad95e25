"""TS: tokens at rest, the vault's keys and what may show a token (checklist, section D)."""

from unittest import mock

import pytest
from django.core.management import call_command
from django.db import connection
from django.test import override_settings
from django.views.debug import ExceptionReporter

from accounts.models import AuditEvent
from portal import crypto
from portal.grants import tokens
from portal.log_filters import PortalExceptionReporterFilter
from portal.models import ZohoGrant
from tests.api_calls import auth
from tests.cast import SAMPLE_TOKEN
from tests.connecting import secrets_of


@pytest.mark.django_db
def test_TS_10_the_apis_grant_detail_never_contains_tokens(client, make_grant, service_key):
    grant = make_grant()
    response = client.get(f"/api/v1/grants/{grant.pk}", **auth(service_key))
    assert response.status_code == 200
    assert response["Cache-Control"] == "no-store"
    body = response.content.decode()
    assert make_grant.refresh_token not in body and make_grant.access_token not in body
    assert response.json()["status"] == "active"


@pytest.mark.parametrize("position", [0, 9, 30, -5, -1])
def test_TS_03_any_flipped_bit_is_one_kind_of_error(position):
    blob = bytearray(crypto.encrypt_token(SAMPLE_TOKEN, context="g"))
    blob[position] ^= 0x01
    with pytest.raises(crypto.TokenDecryptError) as caught:
        crypto.decrypt_token(bytes(blob), context="g")
    assert str(caught.value) == "The stored token could not be decrypted."


def test_TS_04_every_encryption_differs():
    blobs = {crypto.encrypt_token(SAMPLE_TOKEN, context="g") for _ in range(2000)}
    assert len(blobs) == 2000


def test_TS_06_rotation_reencrypts_with_the_newest_key_and_old_rows_still_decrypt(settings):
    old_blob = crypto.encrypt_token(SAMPLE_TOKEN, context="g")
    new_key = crypto.generate_key()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    assert crypto.decrypt_token(old_blob, context="g") == SAMPLE_TOKEN
    assert crypto.needs_rotation(old_blob)
    rotated = crypto.rotate(old_blob)
    assert not crypto.needs_rotation(rotated)
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key]):
        assert crypto.decrypt_token(rotated, context="g") == SAMPLE_TOKEN
        with pytest.raises(crypto.TokenDecryptError):
            crypto.decrypt_token(old_blob, context="g")


@pytest.mark.parametrize(
    ("keys", "problem"),
    [
        ([], "empty"),
        (["too-short"], "not a Fernet key"),
        (["A" * 43 + "="], None),
        (["not base64 !!!" * 3], "not a Fernet key"),
    ],
)
def test_TS_05_key_problems_are_named(keys, problem):
    found = crypto.key_problem(keys)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_TS_05_missing_keys_fail_closed(settings):
    settings.TOKEN_ENCRYPTION_KEYS = []
    with pytest.raises(crypto.TokenKeyError):
        crypto.encrypt_token(SAMPLE_TOKEN, context="g")


def test_TS_07_the_secret_key_is_refused_as_a_token_key():
    key = crypto.generate_key()
    found = crypto.key_problem([key], secret_key=key)
    assert found is not None and "SECRET_KEY" in found


def test_TS_08_error_reports_hide_keys_and_client_secret(settings):
    safe = PortalExceptionReporterFilter().get_safe_settings()
    assert safe["TOKEN_ENCRYPTION_KEYS"] != settings.TOKEN_ENCRYPTION_KEYS
    assert safe["ZOHO_CLIENT_SECRET"] != settings.ZOHO_CLIENT_SECRET


@pytest.mark.django_db
def test_TS_06_rotate_command_fails_on_rows_no_key_can_read(settings, make_grant, capsys):
    make_grant()
    settings.TOKEN_ENCRYPTION_KEYS = [crypto.generate_key()]
    with pytest.raises(Exception, match="could not be decrypted"):
        call_command("rotate_token_keys")
    assert "unreadable: 1" in capsys.readouterr().out


@pytest.mark.django_db(transaction=True)
def test_TS_01_no_table_holds_a_token_in_clear_after_connect_and_refresh(expired, sandbox):
    """After a connect and a refresh, no column of any table of the portal (every table but the
    sandbox's own, which plays Zoho) holds the refresh or the access token, as text or as hex;
    the grant holds them only as ciphertext."""
    tokens.get_access_token(grant_id=expired.pk)
    plain = secrets_of(expired)
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
            " AND table_type = 'BASE TABLE' AND table_name NOT LIKE 'sandbox%%'"
        )
        tables = [name for (name,) in cursor.fetchall()]
        assert "portal_zohogrant" in tables and "procrastinate_jobs" in tables
        dump = []
        for table in tables:
            cursor.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t")
            dump.append(cursor.fetchone()[0])
    everything = "\n".join(dump)
    for secret in plain:
        assert secret not in everything and secret.encode().hex() not in everything
    assert expired.refresh_token_encrypted and expired.access_token_encrypted


@pytest.mark.django_db(transaction=True)
def test_TS_09_an_error_inside_the_refresh_shows_no_token_in_the_error_report(expired, sandbox):
    """A failure inside the refresh, while the decrypted refresh token and Zoho's fresh answer
    are local variables: Django's error report (what error mails and APM events carry) masks
    them."""
    refresh_token = secrets_of(expired)[0]
    with mock.patch("portal.grants.tokens.encrypt_token", side_effect=RuntimeError("disk full")):
        with pytest.raises(RuntimeError) as raised:
            tokens.get_access_token(grant_id=expired.pk)
    reporter = ExceptionReporter(None, raised.type, raised.value, raised.tb)
    frames = reporter.get_traceback_data()["frames"]
    local_vars = next(dict(f["vars"]) for f in frames if f["function"] == "_refresh")
    assert local_vars["refresh_token"] == local_vars["fresh"] == "'********************'"
    assert refresh_token not in reporter.get_traceback_html()
    assert refresh_token not in reporter.get_traceback_text()
    issued_tokens = [r for r in sandbox.requests() if r["endpoint"] == "refresh"]
    assert len(issued_tokens) == 1


@pytest.mark.django_db(transaction=True)
def test_TS_03_a_tampered_refresh_token_needs_reconnect_and_reaches_no_one(expired, sandbox):
    """One flipped bit in the stored refresh token: nothing is decrypted or sent to Zoho, the
    caller gets the one refusal, the grant needs reconnect, and the failure is audited."""
    blob = bytearray(expired.refresh_token_encrypted)
    blob[len(blob) // 2] ^= 0x01
    ZohoGrant.objects.filter(pk=expired.pk).update(refresh_token_encrypted=bytes(blob))
    with pytest.raises(tokens.GrantError):
        tokens.get_access_token(grant_id=expired.pk)
    assert [r for r in sandbox.requests() if r["endpoint"] == "refresh"] == []
    expired.refresh_from_db()
    assert (expired.status, expired.last_error) == ("needs_reconnect", "token_unreadable")
    assert AuditEvent.objects.filter(grant_id=expired.pk, action="grant.refresh_failed").exists()
