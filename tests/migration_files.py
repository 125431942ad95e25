"""Import files for the migration's tests, and running an import as staff or a command would."""

from accounts.audit import AuditContext
from portal.migration.csv_rows import HEADER
from portal.migration.imports import ImportReport, import_customers
from tests.cast import IMPORTED_REFRESH_TOKEN

HEAD = ",".join(HEADER)
# Token-shaped values no Zoho knows (for imports that never reach the sandbox).
AUTHTOKEN = "0123456789abcdef0123456789abcdef"
REFRESH_TOKEN = IMPORTED_REFRESH_TOKEN


def row(
    external_id: str,
    email: str,
    *,
    name: str = "A customer",
    dc: str = "",
    org: str = "",
    authtoken: str = "",
    refresh_token: str = "",
) -> str:
    return ",".join([external_id, email, name, dc, org, authtoken, refresh_token])


def csv_of(*rows: str) -> bytes:
    return ("\n".join([HEAD, *rows]) + "\n").encode()


def run_import(data: bytes, *, campaign: str = "spring", dry_run: bool = False) -> ImportReport:
    return import_customers(data=data, campaign=campaign, context=AuditContext(), dry_run=dry_run)
