"""The sandbox's behaviour switches (one row), read fresh on every request."""

from typing import Any

from sandbox.models import SandboxSettings

SETTING_FIELDS = (
    "access_token_lifetime",
    "code_lifetime",
    "pkce_enforced",
    "pkce_required",
    "allow_space_separated_scopes",
    "revoke_on_code_reuse",
    "revoke_at_any_dc",
)


def current_settings() -> SandboxSettings:
    """The switches now (defaults when nobody changed them; nothing is written)."""
    return SandboxSettings.objects.filter(pk=1).first() or SandboxSettings(pk=1)


def update_settings(**values: Any) -> SandboxSettings:
    """Change some switches; unknown names are a ``KeyError``."""
    unknown = set(values) - set(SETTING_FIELDS)
    if unknown:
        raise KeyError(", ".join(sorted(unknown)))
    row, _ = SandboxSettings.objects.get_or_create(pk=1)
    for name, value in values.items():
        setattr(row, name, value)
    row.save()
    return row


def settings_as_dict(row: SandboxSettings) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SETTING_FIELDS}


LIMITS = {"access_token_lifetime": (1, 7 * 24 * 3600), "code_lifetime": (1, 3600)}


def clean_settings(data: dict[str, Any]) -> dict[str, Any]:
    """Validate switch values from JSON or a form; ``ValueError`` names the bad ones."""
    values: dict[str, Any] = {}
    bad = []
    for name, value in data.items():
        if name not in SETTING_FIELDS:
            bad.append(name)
        elif name in LIMITS:
            low, high = LIMITS[name]
            if isinstance(value, bool) or not str(value).isdigit() or not low <= int(value) <= high:
                bad.append(name)
            else:
                values[name] = int(value)
        elif isinstance(value, bool):
            values[name] = value
        elif str(value).lower() in ("1", "true", "on", "yes", "0", "false", "off", "no"):
            values[name] = str(value).lower() in ("1", "true", "on", "yes")
        else:
            bad.append(name)
    if bad:
        raise ValueError(", ".join(sorted(bad)))
    return values
