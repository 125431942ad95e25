"""Demo grants in bulk: statuses, data centres and organizations in realistic shares.

Part of ``manage.py seed_demo_data`` (``portal.demo.seed``). Refresh tokens are real
ciphertexts (``portal.crypto``, bound to each grant id) of fake token strings; revoked
grants have none, as in production.
"""

import random
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg.types.json import Jsonb

from portal import zoho
from portal.crypto import encrypt_token
from portal.demo.bulk_copy import Progress, copy_rows
from portal.demo.users import ORG_WORDS, SPREAD_DAYS, DemoUser
from portal.models import ZohoGrant

Status = ZohoGrant.Status

STATUS_WEIGHTS = {
    Status.ACTIVE: 80,
    Status.TROUBLE: 5,
    Status.NEEDS_RECONNECT: 6,
    Status.REVOKING: 1,
    Status.REVOKED: 8,
}
DC_WEIGHTS = {"us": 42, "eu": 20, "in": 12, "au": 6, "jp": 5, "uk": 5, "ca": 4, "cn": 4, "sa": 2}
ORG_KINDS = (
    "Support",
    "Helpdesk",
    "Customer Care",
    "Service Desk",
    "& Co Support",
    "Kundenservice",
)
ERRORS = ("timeout", "connection_failed", "http_503", "throttled", "malformed_response")
# Needs-reconnect reasons: answers about the grant (the client's own rejection never condemns one).
DEAD_ERRORS = ("invalid_code", "invalid_grant", "token_unreadable")
SCOPES = "Desk.basic.READ,Desk.settings.READ,AaaServer.profile.READ"


@dataclass(frozen=True)
class DemoGrant:
    id: uuid.UUID
    owner: DemoUser
    data_centre: str
    zoho_email: str
    status: str
    connected_at: datetime
    revoked_at: datetime | None

    def __str__(self) -> str:  # as ZohoGrant.__str__
        return f"{self.zoho_email} ({self.data_centre.upper()})"


def insert_grants(
    rng: random.Random, count: int, owners: Sequence[DemoUser], now: datetime, step: Progress
) -> list[DemoGrant]:
    """COPY ``count`` grants of ``owners``, connected over the last ``SPREAD_DAYS`` days."""
    table = zoho.data_centres()
    statuses, dcs = list(STATUS_WEIGHTS), list(DC_WEIGHTS)
    status_weights, dc_weights = list(STATUS_WEIGHTS.values()), list(DC_WEIGHTS.values())
    made, rows = [], []
    zuid_base = 10_000_000 + ZohoGrant.objects.count()
    for position in range(count):
        grant_id = uuid.UUID(int=rng.getrandbits(128), version=4)
        owner = rng.choice(owners)
        status = rng.choices(statuses, status_weights)[0]
        dc = table[rng.choices(dcs, dc_weights)[0]]
        connected = now - timedelta(seconds=rng.randrange(SPREAD_DAYS * 86400))
        values = _grant_values(rng, grant_id, owner, status, connected, now)
        values |= {"data_centre": dc.code, "accounts_server": dc.accounts_url}
        values |= {"api_domain": dc.api_domain, "desk_base_url": dc.desk_api_base}
        values["zoho_user_id"] = str(zuid_base + position)
        rows.append(values)
        made.append(
            DemoGrant(
                grant_id,
                owner,
                dc.code,
                values["zoho_email"],
                status,
                connected,
                values["revoked_at"],
            )
        )
    copy_rows(ZohoGrant, rows, stage="grants", progress=step)
    return made


def _grant_values(
    rng: random.Random,
    grant_id: uuid.UUID,
    owner: DemoUser,
    status: str,
    connected: datetime,
    now: datetime,
) -> dict[str, Any]:
    """Everything about one grant that follows from its status and connection time."""
    age = (now - connected).total_seconds()
    changed = connected + timedelta(seconds=rng.random() * age)
    refreshed = changed if status != Status.ACTIVE else now - timedelta(seconds=rng.random() * 7200)
    orgs = [_organization(rng) for _ in range(rng.choice((1, 1, 1, 2, 3)))]
    local = owner.email.split("@", 1)[0]
    values: dict[str, Any] = {
        "id": grant_id,
        "user_id": owner.id,
        "zoho_email": f"{local}@{rng.choice(('zoho.example', 'desk.example', 'mail.example'))}",
        "display_name": local.replace(".", " ").title(),
        "organizations": Jsonb(orgs),
        "scope": SCOPES,
        "status": status,
        "created_at": connected,
        "updated_at": changed,
        "connected_at": connected,
        "last_refreshed_at": max(refreshed, connected),
        "last_used_at": refreshed if rng.random() < 0.6 else None,
        "last_checked_at": now - timedelta(seconds=rng.randrange(86400)),
        "status_changed_at": changed,
        "revoked_at": changed if status == Status.REVOKED else None,
        "revoked_by_repr": owner.email if status in (Status.REVOKED, Status.REVOKING) else "",
        "hidden_at": changed if status == Status.REVOKED and rng.random() < 0.3 else None,
        "next_check_at": now + timedelta(seconds=rng.randrange(86400)),
        "refresh_token_encrypted": None,
        "access_token_encrypted": None,
        "access_token_expires_at": None,
    }
    if status != Status.REVOKED:
        values["refresh_token_encrypted"] = encrypt_token(_fake_token(rng), context=str(grant_id))
    if status == Status.ACTIVE and rng.random() < 0.4:
        values["access_token_encrypted"] = encrypt_token(_fake_token(rng), context=str(grant_id))
        values["access_token_expires_at"] = now + timedelta(seconds=rng.randrange(60, 3600))
    if status == Status.TROUBLE:
        values |= {"last_error": rng.choice(ERRORS), "failure_count": rng.randrange(1, 6)}
        values["retry_at"] = now + timedelta(minutes=rng.choice((5, 10, 20, 40)))
    elif status == Status.NEEDS_RECONNECT:
        values |= {"last_error": rng.choice(DEAD_ERRORS), "failure_count": 1}
        values["alerted_at"] = changed if rng.random() < 0.8 else None
    if status == Status.ACTIVE and rng.random() < 0.03:
        values["warning"] = rng.choice((ZohoGrant.Warning.REPEATED_FAILURES, "token_cap"))
        values["warning_since"] = now - timedelta(hours=rng.randrange(1, 72))
    return values


def _organization(rng: random.Random) -> dict[str, str]:
    name = f"{rng.choice(ORG_WORDS)} {rng.choice(ORG_KINDS)}"
    return {"id": str(rng.randrange(60_000_000, 99_999_999)), "name": name}


def _fake_token(rng: random.Random) -> str:
    """A made-up value shaped like a Zoho token (never a real one)."""
    return f"1000.{rng.getrandbits(128):032x}.{rng.getrandbits(128):032x}"
