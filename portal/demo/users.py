"""Demo portal users in bulk: names from many languages, emails unique, a few staff.

Part of ``manage.py seed_demo_data`` (``portal.demo.seed``); every value comes from the
caller's seeded random generator, so a seed always gives the same people (ids included).
"""

import random
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta

from accounts.models import User
from portal.demo.bulk_copy import Progress, copy_rows, reserve_ids

SPREAD_DAYS = 90
STAFF_SHARE = 0.002
FIRST_NAMES = (
    "Emma Liam Olivia Noah Ava Mateo Priya Hiroshi Ingrid Fatima Dmitri Mohammed Ana Mei Grace "
    "José Zoë Łukasz Søren Chloé Björn Ayşe Siobhán Yūki Nguyễn Oluwaseun Renée Anaïs Jürgen"
).split()
LAST_NAMES = (
    "Smith Johnson Garcia Patel Chen Kim Silva Rossi Schmidt Novak Tanaka Johansson Dubois "
    "Müller O'Brien Kowalski Øvergaard Đặng Yılmaz Núñez Lefèvre Sørensen Wiśniewska"
).split()
# Company names: the users' email domains, and (in portal.demo.grants) their organizations.
ORG_WORDS = (
    "Northwind Contoso Fabrikam Globex Initech Umbrella Stark Wayne Tyrell Acme Hooli Vandelay "
    "Café Olé Fjällräven Société Générale Zürich Straße"
).split()


@dataclass(frozen=True)
class DemoUser:
    id: int
    email: str
    is_staff: bool

    def __str__(self) -> str:  # what record_event stores as actor_repr
        return self.email


def insert_users(rng: random.Random, count: int, now: datetime, step: Progress) -> list[DemoUser]:
    """COPY ``count`` users (the first one staff) joined over the last ``SPREAD_DAYS`` days."""
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
        values["email_verified_at"] = joined  # demo people count as having confirmed
        rows.append(values)
    copy_rows(User, rows, stage="users", progress=step)
    return made


def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    return "".join(ch for ch in folded if ch.isalnum()) or "user"
