"""NO-LEAK: none of the secrets in play appears in any output the portal produced.

Checks, for every secret: the given texts (pages, API bodies, captured logs, reprs), every
row of the portal's and the audit log's tables as JSON (and the hex form bytea takes there).
"""

from collections.abc import Iterable

from django.db import connection

TABLES = (
    "portal_zohogrant",
    "portal_pendingauthorization",
    "portal_servicekey",
    "portal_tokenissuance",
    "accounts_auditevent",
    "django_session",
    "accounts_usersession",
    "portal_connectsession",
    "portal_migrationcampaign",
    "portal_migrationcustomer",
)
# The Zoho emulator's own tables hold what Zoho holds (legacy authtokens, its tokens).
NOT_THE_PORTALS = ("sandbox_",)


def every_table_text() -> str:
    """Every row of every table but the sandbox's, as JSON text (bytea as hex)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.tables "
            "WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'"
        )
        tables = [name for (name,) in cursor.fetchall() if not name.startswith(NOT_THE_PORTALS)]
        parts = []
        for table in sorted(tables):
            cursor.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM \"{table}\" t")  # noqa: S608
            parts.append(cursor.fetchone()[0])
    return "\n".join(parts)


def database_text() -> str:
    with connection.cursor() as cursor:
        parts = []
        for table in TABLES:
            cursor.execute(f"SELECT coalesce(json_agg(t)::text, '') FROM {table} t")  # noqa: S608
            parts.append(cursor.fetchone()[0])
    return "\n".join(parts)


def assert_no_leak(secrets: Iterable[str], *texts: str) -> None:
    """Fail when any secret (longer than 8 characters) shows up anywhere."""
    haystacks = [*texts, database_text()]
    for secret in secrets:
        assert len(secret) > 8, "too short to search for"
        for text in haystacks:
            assert secret not in text, "a secret leaked into an output"
            assert secret.encode().hex() not in text, "a secret leaked (as hex) into an output"
