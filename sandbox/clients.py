"""OAuth clients "registered in the API console": the portal's own (from settings, upserted
whenever needed) and any a test registers through the control API."""

import hashlib
import hmac

from django.conf import settings

from sandbox.datacentres import data_centre_codes
from sandbox.models import Client

PORTAL_CLIENT_NAME = "Desk Connect (portal)"


class ClientManagedBySettings(ValueError):
    """The portal's client follows settings; the control API may not redefine it."""


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def ensure_portal_client() -> Client | None:
    """Make the sandbox know the portal's configured client, exactly as settings say now."""
    client_id = settings.ZOHO_CLIENT_ID
    if not client_id or not settings.ZOHO_CLIENT_SECRET:
        return None
    wanted = {
        "name": PORTAL_CLIENT_NAME,
        "secret_hash": secret_hash(settings.ZOHO_CLIENT_SECRET),
        "dc_secret_hashes": {
            dc: secret_hash(secret)
            for dc, secret in settings.ZOHO_DC_CLIENT_SECRETS.items()
            if secret
        },
        "redirect_uris": [settings.ZOHO_REDIRECT_URI],
        "data_centres": list(data_centre_codes()),
        "is_portal": True,
    }
    client = Client.objects.filter(client_id=client_id).first()
    if client and all(getattr(client, name) == value for name, value in wanted.items()):
        return client
    Client.objects.bulk_create(
        [Client(client_id=client_id, **wanted)],
        update_conflicts=True,
        unique_fields=["client_id"],
        update_fields=list(wanted),
    )
    return Client.objects.get(client_id=client_id)


def find_client(client_id: str) -> Client | None:
    """The registered client with this id (the portal's is refreshed from settings first)."""
    if not client_id or "\x00" in client_id or len(client_id) > 200:
        return None  # Postgres cannot even compare text with NUL in it
    if client_id == settings.ZOHO_CLIENT_ID:
        return ensure_portal_client()
    return Client.objects.filter(client_id=client_id).first()


def secret_matches(client: Client, dc: str, secret: str) -> bool:
    """A DC with its own secret accepts only that one; other DCs take the shared secret."""
    expected = client.dc_secret_hashes.get(dc) or client.secret_hash
    return bool(secret) and hmac.compare_digest(expected, secret_hash(secret))


def register_client(
    *,
    client_id: str,
    client_secret: str,
    redirect_uris: list[str],
    dc_secrets: dict[str, str] | None = None,
    data_centres: list[str] | None = None,
    name: str = "",
) -> Client:
    """Register (or re-register) a client, as a developer would in Zoho's API console."""
    if client_id == settings.ZOHO_CLIENT_ID:
        raise ClientManagedBySettings(client_id)
    values = {
        "name": name,
        "secret_hash": secret_hash(client_secret),
        "dc_secret_hashes": {dc: secret_hash(s) for dc, s in (dc_secrets or {}).items() if s},
        "redirect_uris": list(redirect_uris),
        "data_centres": list(data_centres or data_centre_codes()),
        "is_portal": False,
    }
    client, _ = Client.objects.update_or_create(client_id=client_id, defaults=values)
    return client


def client_as_dict(client: Client) -> dict[str, object]:
    """A client for the control API: never a secret, only which DCs have their own."""
    return {
        "client_id": client.client_id,
        "name": client.name,
        "redirect_uris": client.redirect_uris,
        "data_centres": client.data_centres,
        "dcs_with_own_secret": sorted(client.dc_secret_hashes),
        "is_portal": client.is_portal,
    }
