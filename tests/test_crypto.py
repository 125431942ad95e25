"""The token vault: authenticated encryption bound to a grant, rotation, fail-closed keys."""

import pytest

from portal import crypto
from tests.cast import SAMPLE_TOKEN as TOKEN


def test_round_trip_with_the_same_context():
    blob = crypto.encrypt_token(TOKEN, context="grant-1")
    assert TOKEN.encode() not in blob
    assert crypto.decrypt_token(blob, context="grant-1") == TOKEN


def test_ciphertext_copied_to_another_grant_does_not_decrypt():
    blob = crypto.encrypt_token(TOKEN, context="grant-1")
    with pytest.raises(crypto.TokenDecryptError):
        crypto.decrypt_token(blob, context="grant-2")
