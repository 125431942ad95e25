"""Zoho scope syntax (``Service.scope.OPERATION``, comma-separated) and scope checks."""

import re

_SCOPE = re.compile(r"^[A-Za-z][A-Za-z0-9_]*(\.[A-Za-z0-9_]+){1,3}$")


class InvalidScope(ValueError):
    """The scope parameter is missing or not Zoho scope syntax."""


def parse_scope(value: str, *, allow_spaces: bool = False) -> list[str]:
    """The scopes in a ``scope`` parameter; commas separate them (spaces only when allowed)."""
    text = value.strip()
    if not text:
        raise InvalidScope("missing")
    if allow_spaces:
        text = re.sub(r"\s+", ",", text)
    items = [item for item in text.split(",") if item]
    if not items or any(not _SCOPE.match(item) for item in items):
        raise InvalidScope("syntax")
    return items


def scope_allows(granted: str, required: str) -> bool:
    """Whether the granted scope string covers ``required`` (``X.y.ALL`` covers ``X.y.READ``)."""
    want = required.lower()
    prefix = want.rsplit(".", 1)[0]
    for item in re.split(r"[,\s]+", granted.lower()):
        if item == want or item == f"{prefix}.all":
            return True
    return False


def scope_allows_any(granted: str, required: tuple[str, ...]) -> bool:
    return any(scope_allows(granted, scope) for scope in required)
