"""The grant state machine, defined once in portal/grants/lifecycle.py: walk its table."""

import re
from itertools import product
from pathlib import Path

import pytest

from portal.grants import lifecycle
from portal.models import ZohoGrant

Status = ZohoGrant.Status
ROOT = Path(__file__).resolve().parent.parent
ALLOWED = sorted(lifecycle.TRANSITIONS, key=str)
FORBIDDEN = [pair for pair in product([None, *Status], Status) if pair not in lifecycle.TRANSITIONS]


def grant_in(status):
    """An unsaved grant that looks stored in ``status`` (``None``: not stored yet)."""
    grant = ZohoGrant(status=status or Status.ACTIVE)
    grant._state.adding = status is None
    return grant


@pytest.mark.parametrize(("current", "to"), ALLOWED, ids=[f"{a}->{b}" for a, b in ALLOWED])
def test_each_allowed_transition_moves(current, to):
    grant = grant_in(current)
    lifecycle.move(grant, to=to)
    assert grant.status == to


@pytest.mark.parametrize(("current", "to"), FORBIDDEN, ids=[f"{a}->{b}" for a, b in FORBIDDEN])
def test_each_forbidden_transition_raises(current, to):
    grant = grant_in(current)
    with pytest.raises(lifecycle.ForbiddenTransition):
        lifecycle.move(grant, to=to)
    assert grant.status == (current or Status.ACTIVE)


def test_the_diagram_is_in_the_table():
    """DESIGN.md's arrows, including the ones a careless table would drop."""
    for pair in [
        (None, Status.ACTIVE),
        (Status.ACTIVE, Status.TROUBLE),
        (Status.TROUBLE, Status.ACTIVE),
        (Status.TROUBLE, Status.NEEDS_RECONNECT),
        (Status.NEEDS_RECONNECT, Status.ACTIVE),
        (Status.NEEDS_RECONNECT, Status.REVOKING),
        (Status.REVOKING, Status.REVOKED),
    ]:
        assert pair in lifecycle.TRANSITIONS
    assert not any(current == Status.REVOKED for current, _ in lifecycle.TRANSITIONS)


def test_an_unknown_stored_status_may_not_move():
    assert not lifecycle.may_move(current="paused", to=Status.ACTIVE)


def test_the_status_sets_agree():
    assert set(lifecycle.HANDS_OUT) == {Status.ACTIVE, Status.TROUBLE}
    assert set(lifecycle.CHECKED) <= set(lifecycle.HANDS_OUT)
    assert set(lifecycle.MAY_WARN) <= set(lifecycle.HANDS_OUT)
    assert set(lifecycle.HANDS_OUT) < set(lifecycle.HELD_AT_ZOHO)
    assert Status.NEEDS_RECONNECT not in lifecycle.HELD_AT_ZOHO


def test_only_the_lifecycle_module_sets_a_grants_status():
    """Services change ``status`` through ``lifecycle.move``; no other assignment or update."""
    assignment = re.compile(r"\.status\s*(,[^=]*)?=(?!=)|update\([^)]*\bstatus\s*=")
    offenders = []
    for folder in ("portal/grants", "portal/upkeep", "portal/staff", "portal/api", "accounts"):
        for path in (ROOT / folder).rglob("*.py"):
            if path.name == "lifecycle.py" or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if assignment.search(line):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []
