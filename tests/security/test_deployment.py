"""DP: deployment settings the application itself can prove (security checklist, section I)."""

import re
import subprocess
from importlib import metadata
from pathlib import Path

import pytest
from django.contrib.auth.hashers import get_hasher, make_password
from django.urls import reverse

from tests.environment import TEST_ENVIRONMENT
from tests.pins import pins, version_tuple

CONNECTIONS = reverse("portal:connections")
LOGIN = reverse("accounts:login")


@pytest.mark.django_db
def test_DP_07_authenticated_pages_are_not_cached(client, alice):
    client.force_login(alice)
    response = client.get(CONNECTIONS)
    assert "no-store" in response["Cache-Control"]


@pytest.mark.django_db
def test_DP_06_passwords_are_hashed_strongly_validated_and_upgraded_at_login(
    client, alice, password, settings
):
    """PBKDF2 or Argon2 hashes new passwords, the validators are on, and a hash made by an
    older hasher still in the list is rehashed with the first one at the next log-in."""
    first = settings.PASSWORD_HASHERS[0].rsplit(".", 1)[-1]
    assert first in {"PBKDF2PasswordHasher", "Argon2PasswordHasher"}
    validators = {v["NAME"].rsplit(".", 1)[-1] for v in settings.AUTH_PASSWORD_VALIDATORS}
    assert {"MinimumLengthValidator", "CommonPasswordValidator"} <= validators
    assert alice.password.startswith(f"{get_hasher().algorithm}$")
    alice.password = make_password(password, hasher="pbkdf2_sha1")
    alice.save()
    response = client.post(LOGIN, {"username": alice.email, "password": password})
    assert response.status_code == 302
    alice.refresh_from_db()
    assert alice.password.startswith(f"{get_hasher().algorithm}$")


ROOT = Path(__file__).resolve().parents[2]
SECRET_SHAPES = {
    "Fernet key": re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}="),
    "Zoho token": re.compile(r"1000\.[0-9a-f]{32}\.[0-9a-f]{32}"),
    "private key": re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----"),
    "AWS key": re.compile(r"AKIA[0-9A-Z]{16}"),
}
TEST_ONLY = ("tests/environment.py", "tests/cast.py")  # where the suite's fake secrets live


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True, text=True
    )
    return [name for name in listing.stdout.split("\0") if name]


def test_DP_08_no_secret_is_shipped_in_the_repository():
    """No ``.env`` is tracked; key- and token-shaped strings appear only as the suite's own fake
    values (tests/environment.py, tests/cast.py), and those appear nowhere outside tests/; the
    suite's SECRET_KEY and client secret are nowhere else either."""
    files = tracked_files()
    assert not [f for f in files if Path(f).name == ".env" or Path(f).suffix == ".env"]
    texts = {name: (ROOT / name).read_text(errors="replace") for name in files}
    fake = {
        match
        for name in TEST_ONLY
        for shape in SECRET_SHAPES.values()
        for match in shape.findall(texts[name])
    }
    fake |= {TEST_ENVIRONMENT["SECRET_KEY"], TEST_ENVIRONMENT["ZOHO_CLIENT_SECRET"]}
    for name, text in texts.items():
        for kind, shape in SECRET_SHAPES.items():
            unknown = set(shape.findall(text)) - fake
            assert not unknown, f"{kind} in {name}"
        if not name.startswith("tests/"):
            assert not [value for value in fake if value in text], f"a test secret in {name}"


# The oldest release of each that carries the fix for the advisories the checklist names, or
# the oldest supported series: a pin below it fails here, before any advisory scanner runs.
FIXED_AT = {
    "Authlib": ((1, 6, 11), "state-in-cache CSRF; CVE-2025-68158 fixed in 1.6.6"),
    "Django": ((5, 2), "the oldest series Django still supports (5.2 LTS)"),
    "cryptography": ((44, 0, 1), "CVE-2024-12797 (bundled OpenSSL)"),
}


def test_DP_10_runtime_pins_are_at_or_above_fixed_releases_and_are_what_runs():
    """Every runtime dependency is pinned with ``==``; the pins of the libraries with known
    advisories are at or above the fixed releases; and the installed versions are the pins.
    (Failing CI on a newly published advisory is the scanner's job, outside the suite.)"""
    pinned = pins()
    for name, (fixed, why) in FIXED_AT.items():
        assert version_tuple(pinned[name]) >= fixed, f"{name} {pinned[name]} is older than {why}"
    for name, version in pinned.items():
        assert metadata.version(name) == version, name
