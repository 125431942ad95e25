"""Second walls against leaks: the log filter, error reports, admin pages, key rotation."""

import pytest

from portal.log_filters import redact
from tests.cast import SAMPLE_TOKEN as TOKEN


@pytest.mark.parametrize(
    "text",
    [
        f"refreshing with {TOKEN}",
        "GET /connections/callback/?code=abc123&state=xyz789&location=eu HTTP/1.1",
        '127.0.0.1 "GET /accounts/password/reset/abc123/xyz789-s3cr3t/ HTTP/1.1" 302',
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
