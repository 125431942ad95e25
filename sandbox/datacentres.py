"""The sandbox's own view of Zoho's data centres (it plays Zoho, so it does not ask the portal).

Every DC is served under ``/sandbox/<dc>/accounts`` and ``/sandbox/<dc>/desk``. China is a
separate cluster: its users are reachable only through China's accounts server.
"""

from django.conf import settings
from django.http import HttpRequest
from django.urls import reverse

# The ``api_domain`` Zoho returns with tokens for each DC (reference §1.2).
API_DOMAINS = {
    "us": "https://www.zohoapis.com",
    "eu": "https://www.zohoapis.eu",
    "in": "https://www.zohoapis.in",
    "au": "https://www.zohoapis.com.au",
    "jp": "https://www.zohoapis.jp",
    "ca": "https://www.zohoapis.ca",
    "sa": "https://www.zohoapis.sa",
    "uk": "https://www.zohoapis.uk",
    "cn": "https://www.zohoapis.com.cn",
}
SEPARATE_CLUSTERS = frozenset({"cn"})


def data_centre_codes() -> tuple[str, ...]:
    """Every DC the sandbox serves (the project's list)."""
    return tuple(settings.ZOHO_DATA_CENTRES)


def is_data_centre(code: str) -> bool:
    return code in data_centre_codes()


def cluster(code: str) -> str:
    """``cn`` for China, ``global`` for the multi-DC family."""
    return code if code in SEPARATE_CLUSTERS else "global"


def same_cluster(code: str) -> list[str]:
    """The DCs whose users an authorization request at ``code`` may offer."""
    return [dc for dc in data_centre_codes() if cluster(dc) == cluster(code)]


def api_domain(code: str) -> str:
    return API_DOMAINS.get(code, f"https://www.zohoapis.{code}")


def sandbox_root(request: HttpRequest) -> str:
    """The sandbox's absolute base URL as the request reached it, without a trailing slash."""
    return request.build_absolute_uri(reverse("sandbox:control_page")).rstrip("/")


def accounts_server(request: HttpRequest, code: str) -> str:
    """What a callback's ``accounts-server`` names: ``{scheme}://{host}/sandbox/{dc}/accounts``."""
    return f"{sandbox_root(request)}/{code}/accounts"


def desk_base(request: HttpRequest, code: str) -> str:
    return f"{sandbox_root(request)}/{code}/desk"
