"""The staff page that imports customers (/staff/customers/import/): the same service and
report as manage.py import_customers, behind portal.run_migrations, CSRF and a size bound."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from portal.models import MigrationCampaign, MigrationCustomer
from tests.migration_files import AUTHTOKEN, csv_of, row
from tests.staff_permissions import assert_permission_matrix, give

pytestmark = pytest.mark.django_db
URL = "/staff/customers/import/"
FILE = csv_of(
    row("c-1", "one@example.com", dc="us", org="60000002", authtoken=AUTHTOKEN),
    row("c-2", "two@example.com"),
)


def upload(data: bytes = FILE, **fields):
    return {
        "campaign": "spring",
        "file": SimpleUploadedFile("customers.csv", data, content_type="text/csv"),
        **fields,
    }


@pytest.fixture
def importer(client, staff):
    give(staff, "run_migrations")
    client.force_login(staff)
    return client


def test_the_page_needs_the_run_migrations_permission(alice, staff, make_user):
    for method in ("get", "post"):
        assert_permission_matrix(
            method=method,
            url=URL,
            codename="run_migrations",
            alice=alice,
            staff=staff,
            make_user=make_user,
            ok=(200, 400),
        )
    assert not MigrationCampaign.objects.exists()


def test_a_dry_run_shows_the_report_and_writes_nothing(importer):
    response = importer.post(URL, upload(dry_run="on"))
    assert response.status_code == 200
    text = response.content.decode()
    assert "Dry run: what would happen" in text
    assert "1 authtoken(s) would be queued for conversion" in text
    assert not MigrationCampaign.objects.exists()


def test_an_upload_imports_and_shows_the_same_report(importer, staff):
    response = importer.post(URL, upload())
    assert response.status_code == 200
    assert "1 customer(s) without a token, to invite" in response.content.decode()
    campaign = MigrationCampaign.objects.get(name="spring")
    assert campaign.created_by == staff and MigrationCustomer.objects.count() == 2
    assert AUTHTOKEN not in response.content.decode()


def test_problems_are_shown_by_line_and_nothing_is_imported(importer):
    response = importer.post(URL, upload(csv_of(row("c-1", "=cmd|' /C calc'!A0"))))
    assert response.status_code == 400
    assert "line 2 (email): This cell starts like a spreadsheet formula" in (
        response.content.decode()
    )
    assert not MigrationCampaign.objects.exists()


def test_the_upload_needs_a_csrf_token(staff):
    give(staff, "run_migrations")
    client = Client(enforce_csrf_checks=True)
    client.force_login(staff)
    assert client.post(URL, upload()).status_code == 403
    assert not MigrationCampaign.objects.exists()


def test_a_file_over_the_limit_is_refused(importer, settings):
    settings.MIGRATION_IMPORT_MAX_BYTES = len(FILE) - 1
    response = importer.post(URL, upload())
    assert response.status_code == 400
    assert f"The file is larger than {len(FILE) - 1} bytes." in response.content.decode()
    assert not MigrationCampaign.objects.exists()
