"""The cast's fixed facts, for fixtures (tests/conftest.py) and tests that need them by value."""

PASSWORD = "correct-horse-battery-staple-42"  # every user the cast makes signs in with it
EU = "20000001"  # the sandbox's eu user (sandbox/seed.py), whom Alice connects in `connected`
US = "10000001"  # the sandbox's us user, with two Desk organizations
CA = "50000001"  # the sandbox's ca user
CN = "80000001"  # the sandbox's cn user

# The tokens make_grant encrypts into every grant it builds (for leak checks).
GRANT_REFRESH_TOKEN = "1000.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
GRANT_ACCESS_TOKEN = "1000.cccccccccccccccccccccccccccccccc.dddddddddddddddddddddddddddddddd"

# A token-shaped plain value for tests of the vault and the log filter.
SAMPLE_TOKEN = "1000.0123456789abcdef0123456789abcdef.fedcba9876543210fedcba9876543210"
# A refresh token an import file carries that no Zoho knows (tests/migration_files.py).
IMPORTED_REFRESH_TOKEN = "1000.eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee.ffffffffffffffffffffffffffffffff"
