"""Demo data in bulk: users and grants for the staff pages, written with PostgreSQL's COPY.

Everything comes from one seeded random generator, so a seed always gives the same people,
grants and events (ids included). Users are made by ``portal.demo.users``, grants by
``portal.demo.grants``, audit events by ``portal.demo.events``. Used by
``manage.py seed_demo_data``.
"""

import random
import time
from collections import Counter
from dataclasses import dataclass, field

from django.utils import timezone

from accounts.models import AuditEvent
from portal.demo.bulk_copy import Progress
from portal.demo.events import insert_events
from portal.demo.grants import insert_grants
from portal.demo.users import insert_users
from portal.models import ZohoGrant

USERS_PER_GRANT = 1 / 3


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
    users = insert_users(rng, max(1, round(grants * USERS_PER_GRANT)), now, step)
    summary.users, summary.staff = len(users), sum(user.is_staff for user in users)
    summary.seconds["users"] = time.perf_counter() - started
    started = time.perf_counter()
    owners = [user for user in users if not user.is_staff] or users
    made = insert_grants(rng, grants, owners, now, step)
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
