"""A campaign's funnel (portal/migration/funnel.py) on a known set of customers: the staff
pages, their CSV export and ``manage.py campaign_status``."""

import csv
import io
import json
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.audit import AuditContext
from portal.grants import connect_sessions
from portal.migration import funnel
from portal.models import MigrationCampaign, MigrationCustomer
from tests.migration_files import csv_of, row, run_import
from tests.staff_permissions import assert_permission_matrix, client_for, give

pytestmark = pytest.mark.django_db
Step = MigrationCustomer.Step
EXPECTED = [  # (step, count, percent of 6)
    ("imported", 6, "100 %"),
    ("converted", 2, "33 %"),
    ("invited", 3, "50 %"),
    ("opened", 2, "33 %"),
    ("connected", 1, "17 %"),
    ("healthy", 2, "33 %"),
]


@pytest.fixture
def campaign(make_grant) -> MigrationCampaign:
    """c-1 converted (healthy), c-2 converted (warned), c-3 invited, opened and connected,
    c-4 invited and opened, c-5 invited, c-6 still to invite."""
    rows = [
        row(f"c-{n}", f"c{n}@customer.example", dc="eu" if n % 2 else "us") for n in range(1, 7)
    ]
    assert run_import(csv_of(*rows)).ok
    now = timezone.now()
    by_id = {c.user.external_id: c for c in MigrationCustomer.objects.select_related("user")}

    def grant(n: int, **more):
        return make_grant(user=by_id[f"c-{n}"].user, zoho_user_id=f"3000000{n}", **more)

    def invited(n: int, *, opened: bool) -> None:
        made = connect_sessions.create_for_user(
            user=by_id[f"c-{n}"].user, context=AuditContext(), expires_at=now + timedelta(days=1)
        )
        MigrationCustomer.objects.filter(pk=by_id[f"c-{n}"].pk).update(last_session_id=made.id)
        if opened:  # as the link's page does when the customer opens it
            secret = made.url.rstrip("/").rsplit("/", 1)[-1]
            assert connect_sessions.look_at_link(secret=secret, context=AuditContext())
        MigrationCustomer.objects.filter(pk=by_id[f"c-{n}"].pk).update(
            invited_at=now, invitations_sent=1
        )

    done = {"step": Step.CONVERTED, "finished_at": now}
    MigrationCustomer.objects.filter(pk=by_id["c-1"].pk).update(grant=grant(1), **done)
    MigrationCustomer.objects.filter(pk=by_id["c-2"].pk).update(
        grant=grant(2, warning="token_cap"), **done
    )
    invited(3, opened=True)
    MigrationCustomer.objects.filter(pk=by_id["c-3"].pk).update(connected_at=now, grant=grant(3))
    invited(4, opened=True)
    invited(5, opened=False)
    MigrationCustomer.objects.filter(pk=by_id["c-6"].pk).update(last_error="=cmd()")
    type(by_id["c-6"].user).objects.filter(pk=by_id["c-6"].user_id).update(first_name="=cmd()")
    return MigrationCampaign.objects.get(name="spring")


@pytest.fixture
def runner(staff):
    give(staff, "run_migrations")
    return client_for(staff)


def test_the_funnel_counts_and_percentages(campaign):
    steps = funnel.funnel(campaign)
    assert [(s.key, s.count, s.percent_text) for s in steps] == EXPECTED
    stages = {key: list(funnel.customers(campaign, stage=key)) for key, _, _ in funnel.STAGES}
    assert {k: sorted(str(c.user.external_id) for c in v) for k, v in stages.items() if v} == {
        "connected": ["c-3"],
        "converted": ["c-1", "c-2"],
        "opened": ["c-4"],
        "invited": ["c-5"],
        "failed": ["c-6"],
    }
    for key, rows in stages.items():  # the list's filter and each row's stage agree
        assert all(funnel.stage_of(c) == key for c in rows)
    made = funnel.progress(campaign)
    assert (made.converted[-1], made.connected[-1]) == (2, 1)  # all of them today
    assert sum(made.converted) == 2 and sum(made.connected) == 1


def test_the_campaign_page_shows_the_funnel_charts_and_filtered_customers(runner, campaign):
    page = runner.get(f"/staff/campaigns/{campaign.pk}/")
    assert page.status_code == 200
    html = page.content.decode()
    for key, count, percent in EXPECTED:
        assert f'<tr data-step="{key}"><th scope="row">' in html
        cells = html.split(f'<tr data-step="{key}">', 1)[1].split("</tr>", 1)[0]
        assert f"<td>{count}</td><td>{percent}</td>" in cells
    assert 'id="chart-funnel-title"' in html and 'id="chart-progress-title"' in html
    invited = runner.get(f"/staff/campaigns/{campaign.pk}/?stage=invited").content.decode()
    assert "c5@customer.example" in invited and "c4@customer.example" not in invited
    us_only = runner.get(f"/staff/campaigns/{campaign.pk}/?dc=us").content.decode()
    assert "c2@customer.example" in us_only and "c1@customer.example" not in us_only
    found = runner.get(f"/staff/campaigns/{campaign.pk}/?q=c-3").content.decode()
    assert "c3@customer.example" in found and "c1@customer.example" not in found
    assert runner.get(f"/staff/campaigns/{campaign.pk}/?stage=nope").status_code == 400
    listed = runner.get("/staff/campaigns/").content.decode()
    assert f'href="/staff/campaigns/{campaign.pk}/"' in listed


def test_the_csv_export_neutralises_formula_cells(runner, campaign):
    answer = runner.get(f"/staff/campaigns/{campaign.pk}/customers.csv?stage=failed")
    assert answer.status_code == 200 and answer["Content-Type"].startswith("text/csv")
    text = b"".join(answer.streaming_content).decode()
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [r["external_id"] for r in rows] == ["c-6"]
    assert rows[0]["name"] == "'=cmd()" and rows[0]["last_error"] == "'=cmd()"
    assert ",=cmd()" not in text


@pytest.mark.parametrize("path", ["", "{pk}/", "{pk}/customers.csv"])
def test_only_staff_who_run_migrations_see_campaigns(path, campaign, alice, staff, make_user):
    assert_permission_matrix(
        method="get",
        url="/staff/campaigns/" + path.format(pk=campaign.pk),
        codename="run_migrations",
        alice=alice,
        staff=staff,
        make_user=make_user,
    )


def test_a_customer_of_the_campaign_cannot_see_it(campaign):
    customer = MigrationCustomer.objects.get(user__external_id="c-5").user
    answer = client_for(customer).get(f"/staff/campaigns/{campaign.pk}/")
    assert answer.status_code == 404 and b"c1@customer.example" not in answer.content


def test_campaign_status_prints_the_same_figures(campaign):
    out = io.StringIO()
    call_command("campaign_status", "spring", stdout=out)
    lines = out.getvalue().splitlines()
    assert lines[0].startswith("Campaign spring")
    assert any(line.split() == ["Link", "opened", "2", "33.3"] for line in lines)
    assert any(line.split() == ["Auto-converted", "2", "33.3"] for line in lines)
    out = io.StringIO()
    call_command("campaign_status", "spring", "--json", stdout=out)
    document = json.loads(out.getvalue())
    assert [(s["step"], s["count"]) for s in document["steps"]] == [
        (key, count) for key, count, _ in EXPECTED
    ]
    with pytest.raises(Exception, match="No campaign"):
        call_command("campaign_status", "autumn")
