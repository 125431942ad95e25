"""Fault switches: stored, matched and used up (their kinds and validation: fault_kinds.py).

A fault is scoped by data centre (or every DC), endpoint (or ``all``) and optionally a ZUID,
and fires ``count`` times or until cleared. Categories:

- ``delay`` (latency) and ``wrap`` (drip) add to a normal answer;
- ``block`` kinds answer instead of the endpoint (the endpoint does nothing);
- ``modify`` kinds change a successful answer (omit the refresh token, rewrite the callback).
"""

from dataclasses import dataclass
from typing import Any

from django.db.models import F, QuerySet

from sandbox.fault_kinds import KINDS, clean_fault
from sandbox.models import Fault


@dataclass(frozen=True)
class Firing:
    """The faults one request met before doing its work."""

    delay: float = 0.0
    block: Fault | None = None
    drip: Fault | None = None
    names: tuple[str, ...] = ()


def add_fault(data: dict[str, Any]) -> Fault:
    """Store a validated fault switch."""
    return Fault.objects.create(**clean_fault(data))


def clear_faults(fault_id: int | None = None) -> int:
    """Remove one fault switch, or all of them."""
    faults = Fault.objects.all() if fault_id is None else Fault.objects.filter(pk=fault_id)
    return faults.delete()[0]


def active_faults() -> QuerySet[Fault]:
    return Fault.objects.exclude(remaining=0)


def fault_as_dict(fault: Fault) -> dict[str, Any]:
    return {
        "id": fault.pk,
        "kind": fault.kind,
        "dc": fault.data_centre or "all",
        "endpoint": fault.endpoint,
        "zuid": fault.zuid or None,
        "params": fault.params,
        "remaining": fault.remaining,
        "fired": fault.fired,
        "active": fault.remaining != 0,
        "created_at": fault.created_at.isoformat(),
    }


def take_before(*, dc: str, endpoint: str, zuid: str | None) -> Firing:
    """Use up the delay, drip and first blocking fault that match this request."""
    kinds = [n for n, k in KINDS.items() if k.category != "modify" and endpoint in k.endpoints]
    delay, block, drip, names = 0.0, None, None, []
    for fault in _matching(dc=dc, endpoint=endpoint, zuid=zuid, kinds=kinds):
        category = KINDS[fault.kind].category
        if (category == "block" and block) or (category == "wrap" and drip):
            continue
        if not _use(fault):
            continue
        names.append(fault.kind)
        if category == "delay":
            delay += float(fault.params.get("seconds", 0))
        elif category == "wrap":
            drip = fault
        else:
            block = fault
    return Firing(delay=delay, block=block, drip=drip, names=tuple(names))


def take_modifiers(*, dc: str, endpoint: str, zuid: str | None) -> dict[str, Fault]:
    """Use up the oldest matching fault of each modifying kind that works on ``endpoint``."""
    kinds = [n for n, k in KINDS.items() if k.category == "modify" and endpoint in k.endpoints]
    taken: dict[str, Fault] = {}
    for fault in _matching(dc=dc, endpoint=endpoint, zuid=zuid, kinds=kinds):
        if fault.kind not in taken and _use(fault):
            taken[fault.kind] = fault
    return taken


def give_back(taken: dict[str, Fault]) -> None:
    """Undo :func:`take_modifiers` for a request that failed before they could apply."""
    for fault in taken.values():
        faults = Fault.objects.filter(pk=fault.pk, fired__gt=0)
        if fault.remaining is None:
            faults.update(fired=F("fired") - 1)
        else:
            faults.update(remaining=F("remaining") + 1, fired=F("fired") - 1)


def _matching(*, dc: str, endpoint: str, zuid: str | None, kinds: list[str]) -> list[Fault]:
    faults = active_faults().filter(
        kind__in=kinds, endpoint__in=["all", endpoint], data_centre__in=["", dc]
    )
    faults = faults.filter(zuid__in=["", zuid]) if zuid else faults.filter(zuid="")
    return list(faults.order_by("id"))


def _use(fault: Fault) -> bool:
    """Count one firing; False when another request used up the last one first."""
    faults = Fault.objects.filter(pk=fault.pk)
    if fault.remaining is None:
        return faults.update(fired=F("fired") + 1) == 1
    return (
        faults.filter(remaining__gt=0).update(remaining=F("remaining") - 1, fired=F("fired") + 1)
        == 1
    )
