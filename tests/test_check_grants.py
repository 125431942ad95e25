"""`manage.py check_grants`: the health check by hand, through the same code."""

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from portal.models import ZohoGrant

pytestmark = pytest.mark.django_db(transaction=True)

EU, US = "20000001", "10000001"


@pytest.fixture
def two_grants(portal, alice, settings):
    settings.ZOHO_HTTP_TIMEOUT = 10.0  # a busy machine must not turn into "trouble"
    for zuid in (EU, US):
        assert portal.connect(zuid).status_code == 303
    grants = ZohoGrant.objects.filter(user=alice)
    return {grant.zoho_user_id: grant for grant in grants}


def run(*args, stderr=None):
    out = StringIO()
    call_command("check_grants", *args, stdout=out, stderr=stderr or StringIO())
    return out.getvalue()


def test_due_grants_are_checked_with_progress_and_a_summary(sandbox, two_grants):
    """Progress goes to stderr (here not a terminal: a plain line at 50 %, then the summary),
    the count and the summary to stdout."""
    sandbox.revoke_user_grants(US)
    progress = StringIO()
    output = run(stderr=progress)
    assert "2 grant(s) to check" in output
    lines = progress.getvalue().splitlines()
    assert len(lines) == 2, lines
    assert re.fullmatch(
        r"check_grants: 1/2 grants \(50%\), [\d.,]+/s, about [\d.]+ s left", lines[0]
    )
    assert re.fullmatch(r"check_grants: 2 grants in [\d.]+ s \([\d.,]+/s\)", lines[1])
    assert output.rstrip().endswith("checked: 2  healthy: 1  needs reconnect: 1  trouble: 0")
    assert ZohoGrant.objects.get(pk=two_grants[US].pk).status == "needs_reconnect"
    assert run("--due").rstrip().endswith("checked: 0  healthy: 0  needs reconnect: 0  trouble: 0")


def test_all_checks_grants_that_are_not_due(sandbox, two_grants):
    run()
    sandbox.add_fault("status", endpoint="desk_organizations", status=503)
    output = run("--all")
    assert output.rstrip().endswith("checked: 2  healthy: 0  needs reconnect: 0  trouble: 2")
    assert AuditEvent.objects.filter(action="grant.check_failed").count() == 2


def test_one_grant_by_id(sandbox, two_grants):
    output = run("--grant", str(two_grants[EU].pk))
    assert output.strip() == "checked: 1  healthy: 1  needs reconnect: 0  trouble: 0"
    assert AuditEvent.objects.filter(action="grant.checked").count() == 1


def test_unknown_or_revoked_grants_are_refused(sandbox, two_grants):
    with pytest.raises(CommandError, match="No grant"):
        run("--grant", "not-a-uuid")
    with pytest.raises(CommandError, match="No grant"):
        run("--grant", "00000000-0000-0000-0000-000000000000")
    ZohoGrant.objects.filter(pk=two_grants[EU].pk).update(status="revoked")
    with pytest.raises(CommandError, match="neither active nor in trouble"):
        run("--grant", str(two_grants[EU].pk))
