"""Who is calling the token API, and the grant they ask about, in one database round trip.

The key is checked against its stored digest with a constant-time comparison; the grant's
hot columns and whether this key already received the grant's current token come back in
the same query, so the hot path is one indexed read plus a decrypt.
"""

import hmac
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from portal.api import keys

_SQL = """
SELECT k.id, k.name, k.prefix, k.key_digest, k.expires_at, k.revoked_at, k.last_used_at,
       g.id, g.status, g.access_token_encrypted, g.access_token_expires_at, g.api_domain,
       g.desk_base_url, g.organizations, g.last_refreshed_at, g.last_used_at, u.is_active,
       EXISTS (
           SELECT 1 FROM portal_tokenissuance i
           WHERE i.service_key_id = k.id AND i.grant_id = g.id
             AND i.access_token_expires_at = g.access_token_expires_at
       ),
       g.data_centre
FROM portal_servicekey k
LEFT JOIN portal_zohogrant g ON g.id = %s
LEFT JOIN accounts_user u ON u.id = g.user_id
WHERE k.prefix = %s
"""


@dataclass(frozen=True)
class Caller:
    key_id: int
    key_name: str
    key_prefix: str
    key_last_used_at: datetime | None

    def __str__(self) -> str:
        return f"service key {self.key_name} (dck_{self.key_prefix}_…)"


@dataclass(frozen=True)
class GrantState:
    id: UUID
    status: str
    access_token_encrypted: bytes | None
    access_token_expires_at: datetime | None
    api_domain: str
    desk_base_url: str
    organizations: list[dict[str, Any]]
    last_refreshed_at: datetime | None
    last_used_at: datetime | None
    owner_is_active: bool
    already_issued: bool
    data_centre: str


def authenticate(
    authorization: str, grant_id: UUID | None = None
) -> tuple[Caller, GrantState | None] | None:
    """The caller (and the grant, when asked) for a Bearer header, or None for a bad key."""
    raw_key = (
        authorization.removeprefix("Bearer ").strip() if authorization.startswith("Bearer ") else ""
    )
    prefix = keys.parse(raw_key)
    if prefix is None:
        return None
    row = _fetch_one(_SQL, [grant_id, prefix])
    if row is None or not hmac.compare_digest(row[3], keys.digest(raw_key)):
        return None
    expires_at, revoked_at = row[4], row[5]
    if revoked_at is not None or (expires_at is not None and expires_at <= timezone.now()):
        return None
    caller = Caller(key_id=row[0], key_name=row[1], key_prefix=row[2], key_last_used_at=row[6])
    if row[7] is None:
        return caller, None
    organizations = json.loads(row[13]) if isinstance(row[13], str) else row[13]
    grant = GrantState(
        id=row[7],
        status=row[8],
        access_token_encrypted=bytes(row[9]) if row[9] is not None else None,
        access_token_expires_at=row[10],
        api_domain=row[11],
        desk_base_url=row[12],
        organizations=organizations or [],
        last_refreshed_at=row[14],
        last_used_at=row[15],
        owner_is_active=bool(row[16]),
        already_issued=bool(row[17]),
        data_centre=row[18],
    )
    return caller, grant


def _fetch_one(sql: str, params: list[Any]) -> tuple[Any, ...] | None:
    """Run the hot query as a prepared statement that is also the connection's health check.

    ``CONN_HEALTH_CHECKS`` would spend a ``SELECT 1`` round trip before the first query of
    every request; here the query itself tells whether the persistent connection still
    works, and a dead one is replaced once, outside any transaction. Django binds parameters
    on the client, so PostgreSQL would plan this join on every call; a plain psycopg cursor
    with ``prepare=True`` (and the numeric ``prepare_threshold`` set in settings) plans it once
    per connection. Django's own cursors still bind on the client and never prepare, which
    transaction-mode poolers need.
    """
    # Set by BaseDatabaseWrapper.__init__ and read by close_if_health_check_failed();
    # django-stubs leaves the attribute out of the class.
    connection.health_check_done = True  # type: ignore[attr-defined]
    for attempt in (1, 2):
        try:
            connection.ensure_connection()
            with psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchone()
        except (OperationalError, InterfaceError, psycopg.OperationalError, psycopg.InterfaceError):
            if attempt == 2 or connection.in_atomic_block:
                raise
            connection.close()
    return None
