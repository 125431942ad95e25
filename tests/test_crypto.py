"""The token vault: authenticated encryption bound to a grant, rotation, fail-closed keys."""

import pytest
from django.test import override_settings

from portal import crypto

TOKEN = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"


def test_round_trip_with_the_same_context():
    blob = crypto.encrypt_token(TOKEN, context="grant-1")
    assert TOKEN.encode() not in blob
    assert crypto.decrypt_token(blob, context="grant-1") == TOKEN


def test_ciphertext_copied_to_another_grant_does_not_decrypt():
    blob = crypto.encrypt_token(TOKEN, context="grant-1")
    with pytest.raises(crypto.TokenDecryptError):
        crypto.decrypt_token(blob, context="grant-2")


@pytest.mark.parametrize("position", [0, 9, 30, -5, -1])
def test_any_flipped_bit_is_one_kind_of_error(position):
    blob = bytearray(crypto.encrypt_token(TOKEN, context="g"))
    blob[position] ^= 0x01
    with pytest.raises(crypto.TokenDecryptError) as caught:
        crypto.decrypt_token(bytes(blob), context="g")
    assert str(caught.value) == "The stored token could not be decrypted."


def test_every_encryption_differs():
    blobs = {crypto.encrypt_token(TOKEN, context="g") for _ in range(2000)}
    assert len(blobs) == 2000


def test_rotation_reencrypts_with_the_newest_key_and_old_rows_still_decrypt(settings):
    old_blob = crypto.encrypt_token(TOKEN, context="g")
    new_key = crypto.generate_key()
    settings.TOKEN_ENCRYPTION_KEYS = [new_key, *settings.TOKEN_ENCRYPTION_KEYS]
    assert crypto.decrypt_token(old_blob, context="g") == TOKEN
    assert crypto.needs_rotation(old_blob)
    rotated = crypto.rotate(old_blob)
    assert not crypto.needs_rotation(rotated)
    with override_settings(TOKEN_ENCRYPTION_KEYS=[new_key]):
        assert crypto.decrypt_token(rotated, context="g") == TOKEN
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
def test_key_problems_are_named(keys, problem):
    found = crypto.key_problem(keys)
    if problem is None:
        assert found is None
    else:
        assert found is not None and problem in found


def test_the_secret_key_is_refused_as_a_token_key():
    key = crypto.generate_key()
    found = crypto.key_problem([key], secret_key=key)
    assert found is not None and "SECRET_KEY" in found


def test_missing_keys_fail_closed(settings):
    settings.TOKEN_ENCRYPTION_KEYS = []
    with pytest.raises(crypto.TokenKeyError):
        crypto.encrypt_token(TOKEN, context="g")
