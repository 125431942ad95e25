"""Loaded as a pytest plugin before Django: a fixed, hermetic environment for the suite.

Values already in the environment win (so DATABASE_URL can point the suite anywhere); the
developer's .env file is never read by tests.
"""

import os

TEST_ENVIRONMENT = {
    "ENV_FILE": "",
    "SECRET_KEY": "test-only-secret-key-0123456789-abcdefghijklmnopqrstuvwxyz",
    "ALLOWED_HOSTS": "testserver,localhost,127.0.0.1",
    "EMAIL_URL": "consolemail://",
    "TOKEN_ENCRYPTION_KEYS": "zJwbl_PjRTsAGNAZdALIjwIc3KH8mobJdxkAlsljzSI=",
    "SANDBOX_ENABLED": "1",
    "WEBHOOKS_ALLOW_PRIVATE_NETWORKS": "1",  # test receivers listen on 127.0.0.1
    "ZOHO_CLIENT_ID": "1000.TESTCLIENT0000000000000000000000",
    "ZOHO_CLIENT_SECRET": "test-client-secret-0123456789abcdef0123456789",
    # DEBUG is off, but nothing runs collectstatic: static files keep their plain names.
    "STATICFILES_BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage",
}

for name, value in TEST_ENVIRONMENT.items():
    os.environ.setdefault(name, value)
