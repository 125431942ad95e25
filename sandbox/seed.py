"""The sandbox's Zoho users and their Desk organizations, created on demand.

Tests flush every table between tests, so a data migration would vanish: every sandbox
request calls :func:`ensure_seeded`, which is one query when the seed is present and an
idempotent upsert (safe under concurrent processes) when it is not.
"""

from dataclasses import dataclass

from django.db import transaction

from sandbox.models import DeskOrganization, ZohoAccount

# A display name built to test escaping: HTML that would run script if rendered raw, and a
# right-to-left override that flips the text after it.
HOSTILE_NAME = '<img src=x onerror=alert(1)> "><svg onload=alert(1)>'
RLO = "\u202e"


@dataclass(frozen=True)
class SeedOrg:
    org_id: str
    agent_id: str
    company_name: str
    portal_name: str
    edition: str
    portal_url: str = ""


@dataclass(frozen=True)
class SeedUser:
    zuid: str
    dc: str
    email: str
    first_name: str
    last_name: str
    display_name: str
    orgs: tuple[SeedOrg, ...]


SEED_USERS: tuple[SeedUser, ...] = (
    SeedUser(
        "10000001",
        "us",
        "ada@example.com",
        "Ada",
        "Lovelace",
        "Ada Lovelace",
        (
            SeedOrg(
                "60000001", "6000000100001", "Analytical Engines", "analyticalengines", "ENTERPRISE"
            ),
            SeedOrg("60000002", "6000000200001", "Difference Support", "differencesupport", "FREE"),
        ),
    ),
    SeedUser(
        "20000001",
        "eu",
        "agent@example.eu",
        "Émilie",
        "du Châtelet",
        "Émilie du Châtelet",
        (
            SeedOrg(
                "70000001", "7000000100001", "Example Support", "examplesupport", "PROFESSIONAL"
            ),
        ),
    ),
    SeedUser(
        "30000001",
        "in",
        "srinivasa@example.in",
        "Srinivasa",
        "Ramanujan",
        "Srinivasa Ramanujan",
        (SeedOrg("31000001", "3100000100001", "Partition Help", "partitionhelp", "STANDARD"),),
    ),
    SeedUser(
        "40000001",
        "au",
        "ruby@example.com.au",
        "Ruby",
        "Payne-Scott",
        "Ruby Payne-Scott",
        (
            SeedOrg("41000001", "4100000100001", "Radio Astronomy Desk", "radiodesk", "EXPRESS"),
            SeedOrg("41000002", "4100000200001", "Southern Sky Support", "southernsky", "STANDARD"),
        ),
    ),
    SeedUser(
        "50000001",
        "ca",
        "donna@example.ca",
        "Donna",
        "Strickland",
        "Donna Strickland",
        (SeedOrg("51000001", "5100000100001", "Pulse Service", "pulseservice", "PROFESSIONAL"),),
    ),
    SeedUser(
        "80000001",
        "cn",
        "li.hua@example.cn",
        "华",
        "李",
        "李华",
        (SeedOrg("81000001", "8100000100001", "长城客服", "greatwallsupport", "ENTERPRISE"),),
    ),
    SeedUser(
        "90000001",
        "jp",
        "hanako@example.jp",
        "花子",
        "佐藤",
        "佐藤 花子",
        (SeedOrg("91000001", "9100000100001", "桜サポート", "sakurasupport", "STANDARD"),),
    ),
    SeedUser(
        "95000001",
        "sa",
        "ibn.sina@example.sa",
        "Ibn",
        "Sina",
        "Ibn Sina",
        (SeedOrg("96000001", "9600000100001", "Canon Care", "canoncare", "EXPRESS"),),
    ),
    SeedUser(
        "99000001",
        "uk",
        "mallory@example.uk",
        HOSTILE_NAME,
        f"Mallory {RLO}gnp.exe",
        f"{HOSTILE_NAME} {RLO}Mallory",
        (
            SeedOrg(
                "99100001",
                "9910000100001",
                "<script>alert('org')</script> {{7*7}} Ltd",
                "mallorysupport",
                "FREE",
                "javascript:alert(1)",
            ),
        ),
    ),
)
SEED_ORG_IDS = tuple(org.org_id for user in SEED_USERS for org in user.orgs)


def ensure_seeded() -> None:
    """Make sure every seeded user and organization exists (cheap when they do)."""
    if DeskOrganization.objects.filter(org_id__in=SEED_ORG_IDS).count() == len(SEED_ORG_IDS):
        return
    seed()


def seed() -> None:
    """Upsert the seeded users and organizations, restoring any field a test changed."""
    with transaction.atomic():
        ZohoAccount.objects.bulk_create(
            [
                ZohoAccount(
                    zuid=u.zuid,
                    data_centre=u.dc,
                    email=u.email,
                    first_name=u.first_name,
                    last_name=u.last_name,
                    display_name=u.display_name,
                )
                for u in SEED_USERS
            ],
            update_conflicts=True,
            unique_fields=["zuid"],
            update_fields=["data_centre", "email", "first_name", "last_name", "display_name"],
        )
        ids = dict(
            ZohoAccount.objects.filter(zuid__in=[u.zuid for u in SEED_USERS]).values_list(
                "zuid", "id"
            )
        )
        DeskOrganization.objects.bulk_create(
            [
                DeskOrganization(
                    account_id=ids[u.zuid],
                    org_id=o.org_id,
                    agent_id=o.agent_id,
                    company_name=o.company_name,
                    portal_name=o.portal_name,
                    edition=o.edition,
                    portal_url=o.portal_url,
                    is_default=index == 0,
                )
                for u in SEED_USERS
                for index, o in enumerate(u.orgs)
            ],
            update_conflicts=True,
            unique_fields=["org_id"],
            update_fields=[
                "account",
                "agent_id",
                "company_name",
                "portal_name",
                "edition",
                "portal_url",
                "is_default",
            ],
        )
