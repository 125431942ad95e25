"""Demo data in bulk: users and grants for the staff pages, written with PostgreSQL's COPY.

Everything comes from one seeded random generator, so a seed always gives the same people,
grants and events (ids included). Refresh tokens are real ciphertexts (``portal.crypto``,
bound to each grant id) of fake token strings; revoked grants have none, as in production.
Audit events are made by ``portal.demo.events``. Used by ``manage.py seed_demo_data``.
"""

import random
import time
import unicodedata
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from psycopg.types.json import Jsonb

from accounts.models import AuditEvent, User
from portal import zoho
from portal.crypto import encrypt_token
from portal.demo.bulk_copy import Progress, copy_rows, reserve_ids
from portal.demo.events import insert_events
from portal.models import ZohoGrant

SPREAD_DAYS = 90
USERS_PER_GRANT = 1 / 3
STAFF_SHARE = 0.002
Status = ZohoGrant.Status

STATUS_WEIGHTS = {
    Status.ACTIVE: 80,
    Status.TROUBLE: 5,
    Status.NEEDS_RECONNECT: 6,
    Status.REVOKING: 1,
    Status.REVOKED: 8,
}
DC_WEIGHTS = {"us": 42, "eu": 20, "in": 12, "au": 6, "jp": 5, "uk": 5, "ca": 4, "cn": 4, "sa": 2}
FIRST_NAMES = (
    "Emma Liam Olivia Noah Ava Mateo Priya Hiroshi Ingrid Fatima Dmitri Mohammed Ana Mei Grace "
    "José Zoë Łukasz Søren Chloé Björn Ayşe Siobhán Yūki Nguyễn Oluwaseun Renée Anaïs Jürgen"
).split()
LAST_NAMES = (
    "Smith Johnson Garcia Patel Chen Kim Silva Rossi Schmidt Novak Tanaka Johansson Dubois "
    "Müller O'Brien Kowalski Øvergaard Đặng Yılmaz Núñez Lefèvre Sørensen Wiśniewska"
).split()
ORG_WORDS = (
    "Northwind Contoso Fabrikam Globex Initech Umbrella Stark Wayne Tyrell Acme Hooli Vandelay "
    "Café Olé Fjällräven Société Générale Zürich Straße"
).split()
ORG_KINDS = (
    "Support",
    "Helpdesk",
    "Customer Care",
    "Service Desk",
    "& Co Support",
    "Kundenservice",
)
ERRORS = ("timeout", "connection_failed", "http_503", "throttled", "malformed_response")
DEAD_ERRORS = ("invalid_code", "invalid_client", "token_unreadable")
SCOPES = "Desk.basic.READ,Desk.settings.READ,AaaServer.profile.READ"


@dataclass(frozen=True)
class DemoUser:
    id: int
    email: str
    is_staff: bool

    def __str__(self) -> str:  # what record_event stores as actor_repr
        return self.email


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


@dataclass
class SeedSummary:
    users: int = 0
    staff: int = 0
    grants: int = 0
    events: int = 0
    by_status: Counter[str] = field(default_factory=Counter)
    by_dc: Counter[str] = field(default_factory=Counter)
    by_action: Counter[str] = field(default_factory=Counter)
    seconds: dict[str, float] = field(default_factory=dict)


def has_data() -> bool:
    """True when grants or audit events are already stored (seeding would mix with them)."""
    return ZohoGrant.objects.exists() or AuditEvent.objects.exists()


def seed_demo_data(
    *, grants: int, events: int, seed: int, progress: Progress | None = None
) -> SeedSummary:
    """Insert ``grants`` grants (and about a third as many users) and ``events`` audit events,
    spread over the last 90 days. Run inside ``transaction.atomic()`` to get all or nothing."""
    # Reproducible demo data, nothing secret (S311). Appending runs draw other values.
    rng = random.Random(f"{seed}/{ZohoGrant.objects.count()}")  # noqa: S311
    step = progress or (lambda stage, done, total: None)
    now = timezone.now().replace(microsecond=0)
    summary = SeedSummary()
    started = time.perf_counter()
    users = _insert_users(rng, max(1, round(grants * USERS_PER_GRANT)), now, step)
    summary.users, summary.staff = len(users), sum(user.is_staff for user in users)
    summary.seconds["users"] = time.perf_counter() - started
    started = time.perf_counter()
    owners = [user for user in users if not user.is_staff] or users
    made = _insert_grants(rng, grants, owners, now, step)
    summary.grants = len(made)
    summary.by_status.update(grant.status for grant in made)
    summary.by_dc.update(grant.data_centre for grant in made)
    summary.seconds["grants"] = time.perf_counter() - started
    started = time.perf_counter()
    staff = [user for user in users if user.is_staff]
    summary.by_action = insert_events(
        rng, events, grants=made, users=users, staff=staff, now=now, progress=step
    )
    summary.events = sum(summary.by_action.values())
    summary.seconds["events"] = time.perf_counter() - started
    return summary


def _insert_users(rng: random.Random, count: int, now: datetime, step: Progress) -> list[DemoUser]:
    ids = reserve_ids(User, count)
    first_number = User.objects.count()  # keeps emails unique when appending
    made, rows = [], []
    for position, user_id in enumerate(ids):
        first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
        number = first_number + position
        is_staff = position == 0 or rng.random() < STAFF_SHARE
        domain = "deskconnect.example" if is_staff else f"{_ascii(rng.choice(ORG_WORDS))}.example"
        email = f"{_ascii(first)}.{_ascii(last)}.{number}@{domain}"
        joined = now - timedelta(seconds=rng.randrange(SPREAD_DAYS * 86400))
        made.append(DemoUser(user_id, email, is_staff))
        # An unusable password ("!" + random text), as Django's set_unusable_password() writes.
        values = {"id": user_id, "email": email, "first_name": first, "last_name": last}
        values |= {"password": f"!{rng.getrandbits(128):032x}", "is_staff": is_staff}
        values |= {"date_joined": joined, "last_login": joined if rng.random() < 0.7 else None}
        values["has_alert_emails"] = rng.random() < 0.9
        rows.append(values)
    copy_rows(User, rows, stage="users", progress=step)
    return made


def _insert_grants(
    rng: random.Random, count: int, owners: Sequence[DemoUser], now: datetime, step: Progress
) -> list[DemoGrant]:
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


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "user"
