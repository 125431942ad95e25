"""The token vault: the only module that holds encryption keys or imports ``cryptography``.

Keys come from ``TOKEN_ENCRYPTION_KEYS`` (comma-separated Fernet keys, newest first). The newest
key encrypts; any listed key decrypts, so keys rotate by prepending a new one and running
``manage.py rotate_token_keys``. Each ciphertext is bound to a context (the grant id): the
plaintext is a small record holding the context, so a value copied into another row does not
decrypt there.
"""

import base64
import binascii
import json
from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.views.decorators.debug import sensitive_variables


class TokenDecryptError(Exception):
    """A ciphertext could not be decrypted or was bound to another context (one error type)."""


class TokenKeyError(Exception):
    """``TOKEN_ENCRYPTION_KEYS`` is missing or malformed."""


def key_problem(keys: list[str], secret_key: str = "") -> str | None:
    """Describe what is wrong with a key list, or None when every key is usable."""
    if not keys:
        return "TOKEN_ENCRYPTION_KEYS is empty."
    for position, key in enumerate(keys, start=1):
        try:
            raw = base64.urlsafe_b64decode(key.encode())
        except (binascii.Error, ValueError):
            raw = b""
        if len(raw) != 32:
            return (
                f"Key {position} of TOKEN_ENCRYPTION_KEYS is not a Fernet key (32 bytes, base64)."
            )
        if secret_key and key == secret_key:
            return f"Key {position} of TOKEN_ENCRYPTION_KEYS is the SECRET_KEY; keep them apart."
    return None


@lru_cache(maxsize=4)
def _ring(keys: tuple[str, ...]) -> MultiFernet:
    problem = key_problem(list(keys))
    if problem:
        raise TokenKeyError(problem)
    return MultiFernet([Fernet(key.encode()) for key in keys])


def _current_ring() -> MultiFernet:
    return _ring(tuple(settings.TOKEN_ENCRYPTION_KEYS))


@sensitive_variables("value")
def encrypt_token(value: str, *, context: str) -> bytes:
    """Encrypt ``value`` with the newest key, bound to ``context`` (a grant id)."""
    record = json.dumps({"c": context, "v": value}, separators=(",", ":")).encode()
    return _current_ring().encrypt(record)


def decrypt_token(blob: bytes | memoryview | None, *, context: str) -> str:
    """Decrypt a value made by :func:`encrypt_token` for the same ``context``.

    A missing blob (a wiped or never-filled column) is as unreadable as a damaged one.
    """
    if blob is None:
        raise TokenDecryptError("The stored token could not be decrypted.")
    return _decrypt(tuple(settings.TOKEN_ENCRYPTION_KEYS), bytes(blob), context)


@lru_cache(maxsize=1024)
@sensitive_variables("record")
def _decrypt(keys: tuple[str, ...], blob: bytes, context: str) -> str:
    """The decryption itself, remembered per key list, ciphertext and context.

    The token API hands the same access token out many times an hour; a remembered answer
    saves the authentication, the AES and the JSON each time. Only successes are remembered
    (an exception is not cached), under the exact key list that produced them: a key removed
    from ``TOKEN_ENCRYPTION_KEYS`` decrypts nothing, remembered or not. What is kept is no more
    than this process could decrypt again at will, since it holds the keys.
    """
    try:
        record = json.loads(_ring(keys).decrypt(blob))
    except (InvalidToken, ValueError, TypeError):
        raise TokenDecryptError("The stored token could not be decrypted.") from None
    if not isinstance(record, dict) or record.get("c") != context:
        raise TokenDecryptError("The stored token could not be decrypted.")
    return str(record["v"])


def needs_rotation(blob: bytes | memoryview) -> bool:
    """True when ``blob`` was not encrypted with the newest key."""
    newest = Fernet(settings.TOKEN_ENCRYPTION_KEYS[0].encode())
    try:
        newest.decrypt(bytes(blob))
    except InvalidToken:
        return True
    return False


def rotate(blob: bytes | memoryview) -> bytes:
    """Re-encrypt ``blob`` with the newest key (same plaintext, same context)."""
    try:
        return _current_ring().rotate(bytes(blob))
    except InvalidToken:
        raise TokenDecryptError("The stored token could not be decrypted.") from None


def generate_key() -> str:
    """A new random key, for set-up scripts and tests."""
    return Fernet.generate_key().decode()
